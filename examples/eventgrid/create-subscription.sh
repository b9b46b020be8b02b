#!/usr/bin/env sh
# Delivers ACR events to registry-gateway through Azure Event Grid instead of ACR's native
# webhook: Event Grid retries for up to a day and can dead-letter to storage. A reference to
# copy from, not a script to run unedited: replace <host> and <token> first.
#
# Event Grid sends the static delivery attribute as an HTTP header on every delivery; the
# trailing `true` marks the value secret, so Azure never shows it again. The gateway answers
# Event Grid's validation handshake itself (the SubscriptionValidation event for the Event Grid
# schema, the OPTIONS request for CloudEvents).
#
# Event Grid schema (a JSON array of events per request):
#
# az eventgrid event-subscription create \
#   --name registrygateway \
#   --source-resource-id "$(az acr show --name myregistry --query id --output tsv)" \
#   --endpoint-type webhook \
#   --endpoint https://<host>/events/eventgrid \
#   --event-delivery-schema eventgridschema \
#   --included-event-types Microsoft.ContainerRegistry.ImagePushed Microsoft.ContainerRegistry.ImageDeleted Microsoft.ContainerRegistry.ChartPushed Microsoft.ContainerRegistry.ChartDeleted \
#   --delivery-attribute-mapping Authorization static "Bearer <token>" true
#
# CloudEvents 1.0 schema (one event per request):
#
# az eventgrid event-subscription create \
#   --name registrygateway-cloudevents \
#   --source-resource-id "$(az acr show --name myregistry --query id --output tsv)" \
#   --endpoint-type webhook \
#   --endpoint https://<host>/events/eventgrid \
#   --event-delivery-schema cloudeventschemav1_0 \
#   --included-event-types Microsoft.ContainerRegistry.ImagePushed Microsoft.ContainerRegistry.ImageDeleted Microsoft.ContainerRegistry.ChartPushed Microsoft.ContainerRegistry.ChartDeleted \
#   --delivery-attribute-mapping Authorization static "Bearer <token>" true
#
# Chart events name the registry only in the source resource id, which the gateway reads; image
# events carry it in data.request.host.
exit 0
