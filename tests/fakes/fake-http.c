/* SPDX-License-Identifier: MIT */
#include <string.h>
#include <strings.h>

#include <systemd/sd-event.h>

#include "fake-http.h"

typedef struct FakeAnswer {
        char *method;
        char *url_suffix;
        long status;
        char *body;
        int error;
        struct FakeAnswer *next;
} FakeAnswer;

struct HttpCall {
        FakeHttp *owner;
        sd_event_source *defer;
        HttpDoneFn done;
        void *userdata;
        FakeAnswer *answer;     /* NULL: no match */
        HttpCall *next;
};

struct FakeHttp {
        HttpTransport base;
        sd_event *event;
        FakeAnswer *answers;
        FakeHttpRecord *records;
        size_t n_records;
        HttpCall *calls;
};

static void answer_free(FakeAnswer *a) {
        if (!a)
                return;
        free(a->method);
        free(a->url_suffix);
        free(a->body);
        free(a);
}

static void call_unlink(FakeHttp *f, HttpCall *c) {
        for (HttpCall **i = &f->calls; *i; i = &(*i)->next)
                if (*i == c) {
                        *i = c->next;
                        return;
                }
}

static void call_free(HttpCall *c) {
        sd_event_source_disable_unref(c->defer);
        answer_free(c->answer);
        free(c);
}

static int on_defer(sd_event_source *s, void *userdata) {
        HttpCall *c = userdata;
        FakeHttp *f = c->owner;
        HttpResponse resp = {};

        (void) s;
        call_unlink(f, c);
        if (!c->answer)
                c->done(-ECONNREFUSED, NULL, c->userdata);
        else if (c->answer->error)
                c->done(c->answer->error, NULL, c->userdata);
        else {
                resp.status = c->answer->status;
                resp.body = c->answer->body ? c->answer->body : "";
                resp.body_len = strlen(resp.body);
                c->done(0, &resp, c->userdata);
        }
        call_free(c);
        return 0;
}

static bool suffix_match(const char *s, const char *suffix) {
        size_t n = strlen(s), m = strlen(suffix);
        return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int fake_submit(HttpTransport *base, const HttpRequest *req, HttpDoneFn done, void *userdata,
                       HttpCall **ret_call) {
        FakeHttp *f = (FakeHttp *) base;
        FakeHttpRecord *rec, *nr;
        HttpCall *c;
        size_t nh = 0;
        int r;

        nr = realloc(f->records, (f->n_records + 1) * sizeof(*nr));
        if (!nr)
                return -ENOMEM;
        f->records = nr;
        rec = &f->records[f->n_records++];
        *rec = (FakeHttpRecord) {};
        rec->method = strdup(req->method);
        rec->url = strdup(req->url);
        for (const char *const *h = req->headers; h && *h; h++)
                nh++;
        rec->headers = calloc(nh + 1, sizeof(char *));
        for (size_t i = 0; i < nh && rec->headers; i++)
                rec->headers[i] = strdup(req->headers[i]);
        rec->body = req->body_len ? strndup(req->body, req->body_len) : strdup("");
        rec->body_len = req->body_len;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->owner = f;
        c->done = done;
        c->userdata = userdata;
        for (FakeAnswer **i = &f->answers; *i; i = &(*i)->next) {
                FakeAnswer *a = *i;
                if ((!a->method || strcmp(a->method, req->method) == 0) &&
                    (!a->url_suffix || suffix_match(req->url, a->url_suffix))) {
                        *i = a->next;
                        a->next = NULL;
                        c->answer = a;
                        break;
                }
        }
        r = sd_event_add_defer(f->event, &c->defer, on_defer, c);
        if (r < 0) {
                call_free(c);
                return r;
        }
        c->next = f->calls;
        f->calls = c;
        if (ret_call)
                *ret_call = c;
        return 0;
}

static void fake_cancel(HttpTransport *base, HttpCall *c) {
        FakeHttp *f = (FakeHttp *) base;

        call_unlink(f, c);
        call_free(c);
}

static void fake_free_transport(HttpTransport *base) {
        (void) base;
        /* Owned by FakeHttp: freed in fake_http_free(). */
}

static const HttpTransportOps fake_ops = {
        .submit = fake_submit,
        .cancel = fake_cancel,
        .free = fake_free_transport,
};

int fake_http_new(sd_event *event, FakeHttp **ret) {
        FakeHttp *f = calloc(1, sizeof(*f));

        if (!f)
                return -ENOMEM;
        f->base.ops = &fake_ops;
        f->event = sd_event_ref(event);
        *ret = f;
        return 0;
}

FakeHttp *fake_http_free(FakeHttp *f) {
        if (!f)
                return NULL;
        while (f->calls) {
                HttpCall *c = f->calls;
                f->calls = c->next;
                call_free(c);
        }
        while (f->answers) {
                FakeAnswer *a = f->answers;
                f->answers = a->next;
                answer_free(a);
        }
        for (size_t i = 0; i < f->n_records; i++) {
                FakeHttpRecord *r = &f->records[i];
                free(r->method);
                free(r->url);
                for (char **h = r->headers; h && *h; h++)
                        free(*h);
                free(r->headers);
                free(r->body);
        }
        free(f->records);
        sd_event_unref(f->event);
        free(f);
        return NULL;
}

HttpTransport *fake_http_transport(FakeHttp *f) {
        return &f->base;
}

void fake_http_push(FakeHttp *f, const char *method, const char *url_suffix, long status, const char *body,
                    int error) {
        FakeAnswer *a = calloc(1, sizeof(*a)), **tail;

        if (!a)
                abort();
        a->method = method ? strdup(method) : NULL;
        a->url_suffix = url_suffix ? strdup(url_suffix) : NULL;
        a->status = status;
        a->body = body ? strdup(body) : NULL;
        a->error = error;
        for (tail = &f->answers; *tail; tail = &(*tail)->next)
                ;
        *tail = a;
}

size_t fake_http_count(const FakeHttp *f) {
        return f->n_records;
}

const FakeHttpRecord *fake_http_get(const FakeHttp *f, size_t i) {
        return i < f->n_records ? &f->records[i] : NULL;
}

const char *fake_http_header(const FakeHttp *f, size_t i, const char *name) {
        size_t n = strlen(name);

        if (i >= f->n_records)
                return NULL;
        for (char **h = f->records[i].headers; h && *h; h++)
                if (strncasecmp(*h, name, n) == 0 && (*h)[n] == ':')
                        return *h + n + 1 + ((*h)[n + 1] == ' ');
        return NULL;
}

size_t fake_http_pending(const FakeHttp *f) {
        size_t n = 0;
        for (FakeAnswer *a = f->answers; a; a = a->next)
                n++;
        return n;
}

size_t fake_http_in_flight(const FakeHttp *f) {
        size_t n = 0;
        for (HttpCall *c = f->calls; c; c = c->next)
                n++;
        return n;
}
