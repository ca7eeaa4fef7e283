#!/bin/sh
# One-shot set-up of MinIO for Lucida (the minio-init service of docker/compose.yaml), safe to run
# again: the bucket S3_BUCKET with versioning on (a deleted or overwritten object stays
# recoverable for VERSION_RETENTION_DAYS: the object-store half of backup and restore), and
# Lucida's own user (the s3_access_key / s3_secret_key secrets) whose policy reaches that bucket
# only, so Lucida never holds MinIO's root credentials. Runs in the minio/mc image: sh and mc only.
set -eu

secret() { cat "/run/secrets/$1"; }

mc alias set local "$MINIO_URL" "$(secret minio_root_user)" "$(secret minio_root_password)" >/dev/null

mc mb --ignore-existing "local/$S3_BUCKET"
mc version enable "local/$S3_BUCKET"
# Previous versions and delete markers expire after the undo window (added once; `ilm rule ls`
# fails while the bucket has no lifecycle configuration).
if ! mc ilm rule ls "local/$S3_BUCKET" >/dev/null 2>&1; then
  mc ilm rule add --noncurrent-expire-days "$VERSION_RETENTION_DAYS" --expire-delete-marker "local/$S3_BUCKET"
fi

# What S3ObjectStore calls (services/core/storage/s3-object-store.ts): HEAD bucket and listing,
# put (single and multipart), get with ranges, stat, delete. No bucket creation or deletion.
policy=/tmp/lucida-policy.json
cat > "$policy" <<JSON
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
      "Resource": ["arn:aws:s3:::$S3_BUCKET"]
    },
    {
      "Effect": "Allow",
      "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
      "Resource": ["arn:aws:s3:::$S3_BUCKET/*"]
    }
  ]
}
JSON
mc admin policy create local lucida "$policy"
# `user add` creates or updates (the secret file is the truth).
mc admin user add local "$(secret s3_access_key)" "$(secret s3_secret_key)"
# A second attach fails with "already in effect": that one is success.
if ! out=$(mc admin policy attach local lucida --user "$(secret s3_access_key)" 2>&1); then
  case "$out" in
    *"already in effect"*) ;;
    *) echo "$out" >&2; exit 1 ;;
  esac
fi
echo "minio-init: bucket $S3_BUCKET ready (versioned), user with policy lucida"
