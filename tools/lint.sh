#!/bin/sh
# Static analysis: cppcheck over lib/, daemon/ and the test fakes, and
# clang-tidy's bug-finding checks over lib/ and daemon/. Exit 1 on a finding.
# A line-level exception is a `// NOLINT(check): reason` comment.
#
# cppcheck suppressions, each for a construct it cannot follow:
#   memleak, resourceLeak   every allocation is owned by a _cleanup_() local
#                           (GCC cleanup attribute) that cppcheck ignores;
#                           valgrind and LeakSanitizer check the real thing.
#   internalAstError        GNU statement expressions in TAKE_PTR() and the
#                           EC2_XML_*_FIELD type checks break its parser.
#   unknownMacro            json-c's json_object_object_foreach.
set -eu
cd "$(dirname "$0")/.."
cppcheck --error-exitcode=1 --enable=warning,performance,portability --std=c11 --quiet --inline-suppr \
        -D_GNU_SOURCE -DPACKAGE_VERSION='"lint"' -Iinclude -Idaemon -Itests/fakes \
        --suppress=missingIncludeSystem --suppress=memleak --suppress=resourceLeak \
        --suppress=internalAstError --suppress=unknownMacro \
        lib daemon tests/fakes
echo "cppcheck: clean"

# `tools/lint.sh --cppcheck-only` (CI) skips the slower clang-tidy report.
if [ "${1:-}" != "--cppcheck-only" ] && command -v clang-tidy >/dev/null 2>&1; then
        flags="-std=gnu11 -D_GNU_SOURCE -DPACKAGE_VERSION=\"lint\" -Iinclude -Idaemon $(pkg-config --cflags libcurl libcrypto json-c libsystemd expat)"
        # bugprone/security/analyzer checks; the cert/readability styles are not ours.
        # Turned off, each for a reason:
        #   bugprone-easily-swappable-parameters, -reserved-identifier,
        #     -macro-parentheses, -assignment-in-if-condition, -branch-clone,
        #     -narrowing-conversions, -implicit-widening-of-multiplication-result:
        #     style, not bugs; the compiler's -Wconversion-free build is the rule here.
        #   bugprone-sizeof-expression: flags realloc(p, n * sizeof(*p)) when p
        #     is T **, which is exactly right.
        #   clang-analyzer-deadcode.DeadStores, clang-analyzer-unix.Malloc: they
        #     do not model __attribute__((cleanup)), which reads and frees the
        #     variables they call dead or leaked (LSan/valgrind check leaks).
        #   clang-analyzer-security.insecureAPI.strcpy / DeprecatedOrUnsafe...:
        #     every strcpy/memcpy here copies a length checked just before.
        #   clang-analyzer-optin.performance.Padding: struct layout is not hot.
        checks='-*,bugprone-*,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier,-bugprone-macro-parentheses,-bugprone-assignment-in-if-condition,-bugprone-narrowing-conversions,-bugprone-implicit-widening-of-multiplication-result,-bugprone-branch-clone,-bugprone-sizeof-expression,clang-analyzer-*,-clang-analyzer-deadcode.DeadStores,-clang-analyzer-security.insecureAPI.strcpy,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling,-clang-analyzer-unix.Malloc,-clang-analyzer-optin.performance.Padding'
        n=0
        for f in lib/core/*.c lib/io/*.c daemon/*.c; do
                # shellcheck disable=SC2086
                out=$(clang-tidy --quiet -checks="$checks" "$f" -- $flags 2>/dev/null | grep -E '(warning|error):' || true)
                if [ -n "$out" ]; then
                        echo "$out"
                        n=$((n + 1))
                fi
        done
        [ "$n" -eq 0 ] || { echo "clang-tidy: findings in $n files"; exit 1; }
        echo "clang-tidy: clean"
fi
