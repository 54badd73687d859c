/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "cdp/freeze.h"

/* FIFREEZE on any directory freezes the whole file system it is on: a
 * `freeze = /var/lib/db` that is not a mount point would freeze "/".
 * 1 for the root of a mount, 0 for anything else, or a negative errno. */
static int is_mount_root(int fd) {
        struct statx sx, parent;

        if (statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx) < 0)
                return negative_errno();
        if (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
                return !!(sx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
        /* Kernels before 5.8: another device than the parent's, or "/". */
        if (statx(fd, "..", 0, STATX_BASIC_STATS, &parent) < 0)
                return negative_errno();
        return sx.stx_dev_major != parent.stx_dev_major || sx.stx_dev_minor != parent.stx_dev_minor ||
               sx.stx_ino == parent.stx_ino;
}

static int real_freeze(const char *path, int *ret_fd, void *userdata) {
        _cleanup_close_ int fd = -1;
        int arg = 0, r;

        (void) userdata;
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        r = is_mount_root(fd);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOTBLK;
        /* The kernel ignores the argument; a pointer matches FIFREEZE's
         * _IOWR encoding (and keeps valgrind quiet). */
        if (ioctl(fd, FIFREEZE, &arg) < 0)
                return negative_errno();
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int real_thaw(const char *path, int fd, void *userdata) {
        int r = 0;

        (void) path;
        (void) userdata;
        /* EINVAL: not frozen (any more); someone else thawed it, fine. */
        int arg = 0;

        if (ioctl(fd, FITHAW, &arg) < 0 && errno != EINVAL)
                r = negative_errno();
        (void) close(fd);
        return r;
}

static const FreezeOps real_ops = {
        .freeze = real_freeze,
        .thaw = real_thaw,
};

const FreezeOps *freeze_ops_real(void) {
        return &real_ops;
}

typedef struct FreezeEntry {
        char *path;
        int fd;                 /* >= 0 while frozen by us */
        bool frozen;
} FreezeEntry;

struct FreezeSet {
        const FreezeOps *ops;
        FreezeEntry *entries;
        size_t n_entries;
};

int freeze_set_new(const char *const *paths, size_t n_paths, const FreezeOps *ops, FreezeSet **ret) {
        _cleanup_(freeze_set_freep) FreezeSet *s = NULL;

        if (!ret || (!paths && n_paths > 0))
                return -EINVAL;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->ops = ops ?: &real_ops;
        if (n_paths > 0) {
                s->entries = calloc(n_paths, sizeof(FreezeEntry));
                if (!s->entries)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < n_paths; i++) {
                char *p;
                size_t len;
                bool dup = false;

                if (!paths[i])
                        return -EINVAL;
                p = strdup(paths[i]);
                if (!p)
                        return -ENOMEM;
                /* "/data/" is "/data": listed twice, the second FIFREEZE
                 * would fail (-EBUSY) and with it every freeze. */
                len = strlen(p);
                while (len > 1 && p[len - 1] == '/')
                        p[--len] = '\0';
                for (size_t j = 0; j < s->n_entries && !dup; j++)
                        dup = strcmp(s->entries[j].path, p) == 0;
                if (dup) {
                        free(p);
                        continue;
                }
                s->entries[s->n_entries++] = (FreezeEntry) { .path = p, .fd = -1 };
        }
        *ret = TAKE_PTR(s);
        return 0;
}

static int thaw_entry(FreezeSet *s, FreezeEntry *e) {
        int r;

        if (!e->frozen)
                return 0;
        r = s->ops->thaw(e->path, e->fd, s->ops->userdata);
        e->frozen = false;
        e->fd = -1;
        return r;
}

int freeze_set_thaw(FreezeSet *s, const char **reterr_path) {
        int first = 0;

        if (!s)
                return 0;
        for (size_t i = s->n_entries; i > 0; i--) {
                FreezeEntry *e = &s->entries[i - 1];
                int r = thaw_entry(s, e);

                if (r < 0 && first == 0) {
                        first = r;
                        if (reterr_path)
                                *reterr_path = e->path;
                }
        }
        return first;
}

int freeze_set_freeze(FreezeSet *s, const char **reterr_path) {
        if (!s)
                return -EINVAL;
        if (freeze_set_is_frozen(s))
                return -EALREADY;
        for (size_t i = 0; i < s->n_entries; i++) {
                FreezeEntry *e = &s->entries[i];
                int fd = -1, r;

                r = s->ops->freeze(e->path, &fd, s->ops->userdata);
                if (r < 0) {
                        (void) freeze_set_thaw(s, NULL);
                        if (reterr_path)
                                *reterr_path = e->path;
                        return r;
                }
                e->fd = fd;
                e->frozen = true;
        }
        return 0;
}

bool freeze_set_is_frozen(const FreezeSet *s) {
        for (size_t i = 0; s && i < s->n_entries; i++)
                if (s->entries[i].frozen)
                        return true;
        return false;
}

size_t freeze_set_size(const FreezeSet *s) {
        return s ? s->n_entries : 0;
}

FreezeSet *freeze_set_free(FreezeSet *s) {
        if (!s)
                return NULL;
        (void) freeze_set_thaw(s, NULL);
        for (size_t i = 0; i < s->n_entries; i++)
                free(s->entries[i].path);
        free(s->entries);
        free(s);
        return NULL;
}

const char *freeze_strerror(int error) {
        switch (error) {
        case -ENOTBLK:
                return "not a mount point (freezing it would freeze the file system it is on)";
        case -EBUSY:
                return "already frozen (by someone else, or the same file system listed twice)";
        case -EOPNOTSUPP:
                return "the file system cannot be frozen";
        case -EPERM:
                return "not permitted (needs CAP_SYS_ADMIN: the freeze drop-in)";
        default:
                return strerror(-error);
        }
}
