#!/usr/bin/env sh
# Points an Azure Container Registry's native webhook at registry-gateway. A reference to copy
# from, not a script to run unedited: replace the placeholders first.
#
#   <host>   the gateway's public host name (values: host)
#   <token>  the value of a token in the gateway's values, ideally one scoped to
#            providers [acr] and this registry (examples/values-brigade-acr.yaml)
#
# The gateway takes every action ACR can send; ping (sent by `az acr webhook ping`) is answered
# with 200 and emits nothing. Add --scope "team/web:*" to notify about one repository only.
#
# az acr webhook create \
#   --registry myregistry \
#   --name registrygateway \
#   --uri https://<host>/events/acr \
#   --actions push delete chart_push chart_delete quarantine \
#   --headers "Authorization=Bearer <token>"
#
# Checking it:
#
# az acr webhook ping --registry myregistry --name registrygateway
# az acr webhook list-events --registry myregistry --name registrygateway \
#   --query "[].eventResponseMessage.statusCode"
#
# brigade-acr-gateway users: its webhook URL was https://<host>/events, which still works (the
# gateway recognises ACR bodies there), so existing webhooks need no change.
exit 0
