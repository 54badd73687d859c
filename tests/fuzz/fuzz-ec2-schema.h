/* SPDX-License-Identifier: MIT */
/* What the EC2 XML fuzz targets share: an abort-on-failure check and
 * structural equality of two parsed items through their schema (the
 * split-feed and streaming oracles compare parses with it). */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cdp/ec2-xml.h"

#define CHECK(x)                                                                \
        do {                                                                    \
                if (!(x)) {                                                     \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x); \
                        abort();                                                \
                }                                                               \
        } while (0)

static bool str_eq(const char *a, const char *b) {
        return a == b || (a && b && strcmp(a, b) == 0);
}

/* Structural equality through the schema. */
static bool items_equal(const Ec2XmlSchema *schema, const void *a, const void *b) {
        for (size_t i = 0; i < schema->n_fields; i++) {
                const Ec2XmlField *f = &schema->fields[i];
                const char *ma = (const char *) a + f->offset, *mb = (const char *) b + f->offset;

                switch (f->kind) {
                case EC2_XML_STRING:
                        if (!str_eq(*(char *const *) ma, *(char *const *) mb))
                                return false;
                        break;
                case EC2_XML_BOOL:
                        if (*(const bool *) ma != *(const bool *) mb)
                                return false;
                        break;
                case EC2_XML_INT:
                        if (*(const int *) ma != *(const int *) mb)
                                return false;
                        break;
                case EC2_XML_TIME:
                        if (*(const time_t *) ma != *(const time_t *) mb)
                                return false;
                        break;
                case EC2_XML_LIST: {
                        size_t na = *(const size_t *) ((const char *) a + f->count_offset);
                        size_t nb = *(const size_t *) ((const char *) b + f->count_offset);
                        const char *aa = *(char *const *) ma, *ab = *(char *const *) mb;

                        if (na != nb || na > f->max_items)
                                return false;
                        for (size_t j = 0; j < na; j++)
                                if (!items_equal(f->item, aa + j * f->item_size, ab + j * f->item_size))
                                        return false;
                        break;
                }
                }
        }
        return true;
}
