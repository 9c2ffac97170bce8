"""Exchange credentials for trading services, from the auth service only."""
