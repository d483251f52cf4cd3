#!/usr/bin/env bash
# Regenerates the expected outputs of the SMEV transform vectors in tests/data/transform/ with the JDK oracle
# (tests/oracles/SmevTransformOracle.java): the method guide's transform on the JDK's own StAX parser and writer.
# Needs javac and java (OpenJDK 17 or later). The committed outputs keep the tests independent of Java.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/target/oracle"
mkdir -p "$out"
javac -d "$out" "$root/tests/oracles/SmevTransformOracle.java"
java -cp "$out" SmevTransformOracle "$root"/tests/data/transform/*.input.xml
