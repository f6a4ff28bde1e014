#!/usr/bin/env bash
set -euo pipefail

build_image() {
  docker build -t "$1" .
}

function push_image {
  docker push "$1"
}

build_image shop:latest
push_image shop:latest
