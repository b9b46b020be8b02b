#!/usr/bin/env bash
# Creates a Harbor webhook policy that posts a project's events to registry-gateway.
#
#   HARBOR_URL=https://harbor.example.com HARBOR_USER=admin HARBOR_PASSWORD=... \
#   GATEWAY_HOST=registry-gateway.example.com GATEWAY_TOKEN=... \
#     examples/harbor/create-webhook-policy.sh library [webhook-policy-cloudevents.json]
#
# GATEWAY_TOKEN is the value of a gateway token, ideally scoped to providers [harbor] and this
# Harbor's host (examples/values-harbor-knative.yaml). The policy file's <host> and <token>
# placeholders are filled in here, so the secret never lands in a file. Needs curl and jq, and a
# Harbor user with the project admin role (or a robot account allowed to create webhook policies).
set -euo pipefail

project=${1:?usage: create-webhook-policy.sh PROJECT [POLICY_FILE]}
policy_file=${2:-"$(dirname "$0")/webhook-policy-default.json"}
: "${HARBOR_URL:?} ${HARBOR_USER:?} ${HARBOR_PASSWORD:?} ${GATEWAY_HOST:?} ${GATEWAY_TOKEN:?}"

policy=$(jq \
  --arg address "https://${GATEWAY_HOST}/events/harbor" \
  --arg auth "Bearer ${GATEWAY_TOKEN}" \
  '.targets[].address = $address | .targets[].auth_header = $auth' \
  "$policy_file")

# X-Is-Resource-Name: the path names the project rather than giving its numeric id.
curl --fail-with-body --silent --show-error \
  --user "${HARBOR_USER}:${HARBOR_PASSWORD}" \
  --header 'Content-Type: application/json' \
  --header 'X-Is-Resource-Name: true' \
  --data-binary @- \
  "${HARBOR_URL}/api/v2.0/projects/${project}/webhook/policies" <<<"$policy"

echo "webhook policy created for project ${project}; test it from Harbor's Webhooks tab"
