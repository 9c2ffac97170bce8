#!/usr/bin/env bash
# Prints the `export` lines that point clients at the local infrastructure:
#   eval "$(deploy/local/env.sh)"
EIP_COMPONENT=env
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
here=$(dirname "${BASH_SOURCE[0]}")
for component in kafka postgres vault; do
  bash "$here/$component.sh" env
done
