#!/bin/sh
# Uploads a built site to the stack's bucket and invalidates the CloudFront cache.
# Usage: sh scripts/publish.sh [BUILD_DIR]   (default: ./dist; run from the stack directory)
set -eu

build_dir="${1:-dist}"
if [ ! -d "$build_dir" ]; then
  echo "publish: $build_dir is not a directory (build the site first, or pass its output directory)" >&2
  exit 1
fi

bucket="$(terraform output -raw bucket_name)"
distribution="$(terraform output -raw distribution_id)"

# Long-lived caching for fingerprinted assets, revalidation for HTML.
aws s3 sync "$build_dir" "s3://$bucket" --delete --exclude "*.html" \
  --cache-control "public, max-age=31536000, immutable"
aws s3 sync "$build_dir" "s3://$bucket" --delete --exclude "*" --include "*.html" \
  --cache-control "public, max-age=0, must-revalidate"
aws cloudfront create-invalidation --distribution-id "$distribution" --paths "/*" >/dev/null

echo "published $build_dir to $(terraform output -raw url)"
