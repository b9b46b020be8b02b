#!/usr/bin/env sh
# Delivers Google Artifact Registry (and Container Registry) notifications to registry-gateway
# through an authenticated Pub/Sub push subscription. A reference to copy from, not a script to
# run unedited: replace the placeholders first.
#
#   <host>     the gateway's public host name (values: host)
#   <project>  the Google Cloud project whose registries notify
#
# The registries publish to the project's `gcr` topic. Pub/Sub signs a Google OIDC token for the
# service account and sends it as `Authorization: Bearer <JWT>`; the gateway's token says which
# audience and service account it accepts:
#
#   tokens:
#     pubsub:
#       verify: google-oidc
#       audience: https://<host>/events/gar
#       serviceAccount: gar-push@<project>.iam.gserviceaccount.com
#       providers: [gar]
#
# gcloud iam service-accounts create gar-push --project <project>
# gcloud pubsub topics create gcr --project <project>
# gcloud pubsub subscriptions create registry-gateway --project <project> --topic gcr \
#   --push-endpoint https://<host>/events/gar \
#   --push-auth-service-account gar-push@<project>.iam.gserviceaccount.com \
#   --push-auth-token-audience https://<host>/events/gar \
#   --ack-deadline 30
#
# (`topics create` fails harmlessly when the topic exists. The Pub/Sub service agent needs
# roles/iam.serviceAccountTokenCreator on gar-push to sign its tokens.)
exit 0
