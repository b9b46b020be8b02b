#!/usr/bin/env sh
# Sends Amazon ECR's EventBridge events to registry-gateway through an API destination. A
# reference to copy from, not a script to run unedited: replace the placeholders first.
#
#   <host>     the gateway's public host name (values: host)
#   <token>    the value of a bearer token, ideally scoped to providers [ecr]
#   <account>  the AWS account id; <region> the region the registry is in
#
# The connection's API-key header is `Authorization: Bearer <token>`, an ordinary bearer token.
#
# aws events create-connection --name registry-gateway --authorization-type API_KEY \
#   --auth-parameters "ApiKeyAuthParameters={ApiKeyName=Authorization,ApiKeyValue=Bearer <token>}"
# aws events create-api-destination --name registry-gateway \
#   --connection-arn arn:aws:events:<region>:<account>:connection/registry-gateway/<id> \
#   --invocation-endpoint https://<host>/events/ecr --http-method POST \
#   --invocation-rate-limit-per-second 20
# aws events put-rule --name ecr-to-registry-gateway \
#   --event-pattern '{"source":["aws.ecr"],"detail-type":["ECR Image Action","ECR Image Scan","ECR Replication Action","ECR Pull Through Cache Action"]}'
# aws events put-targets --rule ecr-to-registry-gateway --targets \
#   'Id=registry-gateway,Arn=arn:aws:events:<region>:<account>:api-destination/registry-gateway/<id>,RoleArn=arn:aws:iam::<account>:role/eventbridge-invoke-api-destination,DeadLetterConfig={Arn=arn:aws:sqs:<region>:<account>:registry-gateway-dlq},RetryPolicy={MaximumEventAgeInSeconds=86400,MaximumRetryAttempts=185}'
#
# EventBridge retries 429 and 5xx answers and never a 4xx: the dead-letter queue keeps what the
# gateway refused (a 401 after a token change, say).
exit 0
