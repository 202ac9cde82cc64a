#!/bin/sh
# One-shot MinIO setup (runs in the minio/mc image): the lake bucket and the pipeline's own access key,
# limited by pipeline-policy.json to that bucket. Idempotent.
set -eu
mc alias set lake "http://minio:9000" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"
mc mb --ignore-existing "lake/$ECOM_S3_BUCKET"
sed "s/ecommerce-lake/$ECOM_S3_BUCKET/g" /deploy/pipeline-policy.json > /tmp/pipeline-policy.json
mc admin policy create lake ecommerce-pipeline /tmp/pipeline-policy.json
mc admin user add lake "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"
mc admin policy attach lake ecommerce-pipeline --user "$AWS_ACCESS_KEY_ID" || true
echo "bucket $ECOM_S3_BUCKET and pipeline access key ready"
