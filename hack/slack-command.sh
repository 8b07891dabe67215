#!/usr/bin/env bash
# Sends a slash command to `make run`'s chat gateway exactly as Slack would (signed with the
# local signing secret), and prints the answer:
#   hack/slack-command.sh /incident declare EC2 API errors --major
#   hack/slack-command.sh /incident ic @ricardo
#   hack/slack-command.sh /incident status
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./hack/slack-command -- "$@"
