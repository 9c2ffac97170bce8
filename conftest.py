pytest_plugins = ["eip.testing.plugin"]
