/* spill.c - the engine's temporary record file (spill.h).
 *
 * Each entry is its length (4 bytes) then its bytes.  Writes gather in a
 * buffer of a few hundred kilobytes; a read of an entry still in it is
 * served from there, so appending and reading may interleave. */
#include "spill.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { SPILL_BUFFER = 256 * 1024, SPILL_NEAR = 32 * 1024, SPILL_PEEK = 2048 };

int spill_temp_fd(void) {
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    Buf path;
    buf_init(&path);
    buf_printf(&path, "%s/tandem-spill-XXXXXX", dir);
    char *p = buf_take(&path);
    mode_t old = umask(077);
    int fd = mkstemp(p);
    umask(old);
    if (fd >= 0) unlink(p);
    free(p);
    return fd;
}

void spill_open(Spill *s) {
    memset(s, 0, sizeof *s);
    buf_init(&s->wb);
    buf_init(&s->mem);
    buf_init(&s->err);
    buf_init(&s->rb);
    s->fd = spill_temp_fd();
}

void spill_close(Spill *s) {
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
    buf_free(&s->wb);
    buf_free(&s->mem);
    buf_free(&s->err);
    buf_free(&s->rb);
}

void spill_ahead(Spill *s, int on) { s->ahead = on; }

int spill_on_disk(const Spill *s) { return s->fd >= 0; }
const char *spill_error(const Spill *s) { return buf_str(&s->err); }

static int fail(Spill *s, const char *what) {
    buf_reset(&s->err);
    buf_printf(&s->err, "the temporary record file: %s: %s", what, strerror(errno));
    return -1;
}

static int flush(Spill *s) {
    size_t done = 0;
    while (done < s->wb.n) {
        ssize_t w = pwrite(s->fd, s->wb.p + done, s->wb.n - done, (off_t)(s->flushed + done));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return fail(s, "cannot write");
        done += (size_t)w;
    }
    s->flushed += s->wb.n;
    buf_reset(&s->wb);
    return 0;
}

int spill_put(Spill *s, const void *data, uint32_t n, uint64_t *off) {
    Buf *b = s->fd >= 0 ? &s->wb : &s->mem;
    *off = s->size;
    buf_putn(b, (const char *)&n, sizeof n);
    buf_putn(b, data, n);
    s->size += sizeof n + n;
    if (s->fd >= 0 && s->wb.n >= SPILL_BUFFER) return flush(s);
    return 0;
}

static int pread_all(Spill *s, void *to, size_t n, uint64_t off) {
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(s->fd, (char *)to + done, n - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            if (r == 0) errno = EIO;
            return fail(s, "cannot read");
        }
        done += (size_t)r;
    }
    return 0;
}

/* Whether [off, off + n) is in the window. */
static int in_window(const Spill *s, uint64_t off, size_t n) {
    return s->rb.n && off >= s->rb_off && off + n <= s->rb_off + s->rb.n;
}

/* Whether a read at off fills the window: reading forward, near the last. */
static int goes_ahead(const Spill *s, uint64_t off) {
    return s->ahead && off >= s->last && off - s->last <= SPILL_NEAR;
}

static int read_at(Spill *s, uint64_t off, void *to, size_t n) {
    if (s->fd < 0 || off >= s->flushed) {
        const Buf *b = s->fd < 0 ? &s->mem : &s->wb;
        uint64_t base = s->fd < 0 ? 0 : s->flushed;
        if (off < base || off - base + n > b->n) {
            errno = EINVAL;
            return fail(s, "an entry past its end");
        }
        memcpy(to, b->p + (off - base), n);
        return 0;
    }
    /* an entry that starts in the file may end in the buffer */
    if (off + n > s->flushed && flush(s) != 0) return -1;
    if (in_window(s, off, n)) {
        memcpy(to, s->rb.p + (off - s->rb_off), n);
        return 0;
    }
    if (n <= SPILL_BUFFER && goes_ahead(s, off)) {
        uint64_t len = s->flushed - off < SPILL_BUFFER ? s->flushed - off : SPILL_BUFFER;
        buf_reset(&s->rb);
        buf_reserve(&s->rb, (size_t)len);
        if (pread_all(s, s->rb.p, (size_t)len, off) != 0) return -1;
        s->rb.n = (size_t)len;
        s->rb_off = off;
        memcpy(to, s->rb.p, n);
        return 0;
    }
    return pread_all(s, to, n, off);
}

int spill_get(Spill *s, uint64_t off, Buf *out) {
    uint32_t n;
    /* An entry alone in the file (not in the window nor the buffer): its
     * length and, most often, all of it in one read. */
    int alone = s->fd >= 0 && off + sizeof n <= s->flushed && !in_window(s, off, sizeof n) && !goes_ahead(s, off);
    if (alone) {
        uint64_t have = s->flushed - off < SPILL_PEEK ? s->flushed - off : SPILL_PEEK;
        buf_reset(out);
        buf_reserve(out, (size_t)have);
        if (pread_all(s, out->p, (size_t)have, off) != 0) return -1;
        memcpy(&n, out->p, sizeof n);
        if (sizeof n + (uint64_t)n <= have) {
            memmove(out->p, out->p + sizeof n, n);
            out->n = n;
            out->p[n] = 0;
            s->last = off + sizeof n + n;
            return 0;
        }
    } else if (read_at(s, off, &n, sizeof n) != 0) {
        return -1;
    }
    if (off + sizeof n + (uint64_t)n > s->size) {
        errno = EINVAL;
        return fail(s, "an entry past its end");
    }
    buf_reset(out);
    buf_reserve(out, n);
    if (read_at(s, off + sizeof n, out->p, n) != 0) return -1;
    out->n = n;
    out->p[n] = 0;
    s->last = off + sizeof n + n;
    return 0;
}
