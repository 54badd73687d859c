/* SPDX-License-Identifier: MIT */
#pragma once

/* RFC 3986 percent-encoding with the rules AWS Signature Version 4 uses
 * (and botocore uses for Query API form bodies): the unreserved set
 * A-Z a-z 0-9 '-' '_' '.' '~' is copied, every other byte becomes %XX with
 * upper-case hex. Input is treated as bytes, so UTF-8 is encoded bytewise. */

#include <stdbool.h>
#include <stddef.h>

#include "cdp/strbuf.h"

/* True for the RFC 3986 unreserved characters. */
bool uri_is_unreserved(unsigned char c);

/* Appends the encoding of s[0..len) to out. With keep_slash, '/' is copied
 * (paths); otherwise it becomes %2F (query keys/values, form fields).
 * Returns 0, or -E2BIG/-ENOMEM from the StrBuf; on failure out is left as it
 * was before the call. */
int uri_encode(StrBuf *out, const char *s, size_t len, bool keep_slash);

/* Appends the %XX-decoding of s[0..len) to out. '+' is NOT decoded to a space
 * (SigV4 query strings are not HTML forms). A '%' not followed by two hex
 * digits gives -EINVAL. Decoded bytes may include NUL. Returns 0 or a
 * negative errno; on failure out is left as it was before the call. */
int uri_decode(StrBuf *out, const char *s, size_t len);
