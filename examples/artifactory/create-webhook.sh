#!/usr/bin/env sh
# Points a JFrog Platform webhook for Docker tag events at registry-gateway. A reference to copy
# from, not a script to run unedited: replace the placeholders first.
#
#   <jpd>     the JFrog Platform's host (acme.jfrog.io)
#   <host>    the gateway's public host name (values: host)
#   <secret>  the value of a `verify: jfrog` token, ideally scoped to providers [artifactory]:
#               tokens: {jfrog: {value: <secret>, verify: jfrog, providers: [artifactory]}}
#
# JFrog sends the secret in X-JFrog-Event-Auth, or, with "use_secret_for_signing", the
# lower-case hex HMAC-SHA256 of the body keyed with it; the gateway accepts both.
#
# curl -u admin -X POST https://<jpd>/event/api/v1/subscriptions \
#   -H 'Content-Type: application/json' \
#   -d '{
#     "key": "registry-gateway",
#     "description": "Docker tags to registry-gateway",
#     "enabled": true,
#     "event_filter": {
#       "domain": "docker",
#       "event_types": ["pushed", "deleted", "promoted"],
#       "criteria": {"anyLocal": true, "anyRemote": false, "includePatterns": [], "excludePatterns": []}
#     },
#     "handlers": [{
#       "handler_type": "webhook",
#       "url": "https://<host>/events/artifactory",
#       "secret": "<secret>",
#       "use_secret_for_signing": true
#     }]
#   }'
#
# Images are named <jpd>/<repo-key>/<image> (the repository path layout); for
# <repo-key>.<jpd>/<image> set providers.artifactory.layout: subdomain in the values.
exit 0
