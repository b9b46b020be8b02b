#!/usr/bin/env sh
# Points a GitHub organisation's package webhook at registry-gateway (GitHub Container Registry).
# A reference to copy from, not a script to run unedited: replace the placeholders first.
#
#   <host>    the gateway's public host name (values: host)
#   <secret>  the value of a `verify: github-hmac` token, ideally scoped to providers [ghcr]:
#               tokens: {github: {value: <secret>, verify: github-hmac, providers: [ghcr]}}
#
# GitHub signs each delivery (X-Hub-Signature-256) with the secret; the gateway checks the
# signature over the body as received. Only the `package` event is needed (`registry_package`
# is its older name, for hooks created long ago). For a single repository use repos/<owner>/<repo>/hooks.
#
# gh api orgs/acme/hooks --method POST \
#   -f name=web -F active=true \
#   -f 'events[]=package' \
#   -f config[url]=https://<host>/events/ghcr \
#   -f config[content_type]=json \
#   -f config[secret]=<secret>
#
# Checking it: GitHub sends a `ping` at once (answered 200 ignored); the hook's Recent Deliveries
# shows each answer, and Redeliver resends one (same X-GitHub-Delivery, so it is deduplicated).
#
# gh api orgs/acme/hooks --jq '.[] | {id, events, url: .config.url}'
exit 0
