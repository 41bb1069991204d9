/*
 * udp_native: SIP-over-UDP socket I/O for the proxy's `shared` worker model, as Kamailio's
 * children do it: every worker thread sends on the one socket itself (sendmmsg, one syscall per
 * batch, no thread hop), and one receiver thread reads it with recvmmsg and hands each datagram
 * to the worker that owns it (the same steering as services/proxy/src/cluster/dispatch.ts: our
 * worker tag in a response's top Via branch, else a hash of the Call-ID), waking that worker once
 * per batch through a Node-API thread-safe function. No JavaScript runs between the socket and
 * the owning worker.
 *
 * Node-API only (ABI-stable across Node versions): built with the C compiler against the
 * node-api-headers package, no node-gyp, no libuv headers. Linux (recvmmsg/sendmmsg/eventfd).
 */
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_WORKERS 64
#define MAX_RECEIVERS 256
#define BATCH 64
#define SLOT 65536
/* int32 words per datagram in a queue and a drained batch: offset, length, port, family,
 * address (4), queued at (ms, monotonic clock, wrapping). */
#define META_WORDS 9
/* A drained batch starts with three int32: datagrams in it, datagrams still queued after it,
 * and how long its oldest datagram waited in the queue (ms). */
#define BATCH_HEAD 12
#define HEAD_SCAN 4096

#define CHECK(env, call)                                                     \
  do {                                                                       \
    if ((call) != napi_ok) {                                                 \
      napi_throw_error((env), "UDP_NATIVE", "Node-API call failed: " #call); \
      return NULL;                                                           \
    }                                                                        \
  } while (0)

/* ---------------------------------------------------------------- steering */

static inline int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* Case-insensitive: does b[i..] start with the lowercase word w? */
static int starts_ci(const unsigned char *b, size_t n, size_t i, const char *w) {
  size_t k = 0;
  for (; w[k] != 0; k++) {
    if (i + k >= n || lower(b[i + k]) != w[k]) return 0;
  }
  return 1;
}

/* Header line at i named `name` (or its compact form): index just past the ':' or 0. */
static size_t header_colon(const unsigned char *b, size_t n, size_t i, const char *name, const char *compact) {
  size_t j;
  if (starts_ci(b, n, i, name)) j = i + strlen(name);
  else if (starts_ci(b, n, i, compact)) j = i + strlen(compact);
  else return 0;
  while (j < n && (b[j] == ' ' || b[j] == '\t')) j++;
  if (j < n && b[j] == ':') return j + 1;
  return 0;
}

static inline int is_eol(unsigned char c) { return c == '\r' || c == '\n'; }

/* Line starts as a JavaScript /m regular expression sees them: 0 and after every CR or LF. */
static size_t next_line(const unsigned char *b, size_t n, size_t i) {
  while (i < n && !is_eol(b[i])) i++;
  return i < n ? i + 1 : n;
}

/* /branch[ \t]*=[ \t]*z9hG4bK-w(\d{1,3})-lp/i in b[from..to): the worker number or -1. */
static int worker_tag(const unsigned char *b, size_t from, size_t to) {
  for (size_t i = from; i + 6 <= to; i++) {
    if (!starts_ci(b, to, i, "branch")) continue;
    size_t j = i + 6;
    while (j < to && (b[j] == ' ' || b[j] == '\t')) j++;
    if (j >= to || b[j] != '=') continue;
    j++;
    while (j < to && (b[j] == ' ' || b[j] == '\t')) j++;
    if (!starts_ci(b, to, j, "z9hg4bk-w")) continue;
    j += 9;
    int k = 0, digits = 0;
    while (j < to && digits < 3 && b[j] >= '0' && b[j] <= '9') k = k * 10 + (b[j++] - '0'), digits++;
    if (digits == 0 || !starts_ci(b, to, j, "-lp")) continue;
    return k;
  }
  return -1;
}

static inline int js_space(unsigned char c) {
  /* String.prototype.trim over latin1: TAB LF VT FF CR SP NBSP. */
  return c == 0x09 || c == 0x0a || c == 0x0b || c == 0x0c || c == 0x0d || c == 0x20 || c == 0xa0;
}

/* The worker that owns a datagram; identical to dispatch.ts's ownerOf (tested against it). */
static int steer(const unsigned char *b, size_t len, int workers) {
  if (workers <= 1) return 0;
  size_t n = len < HEAD_SCAN ? len : HEAD_SCAN;
  if (n >= 4 && memcmp(b, "SIP/", 4) == 0) {
    for (size_t i = 0; i < n; i = next_line(b, n, i)) {
      size_t v = header_colon(b, n, i, "via", "v");
      if (v == 0) continue;
      size_t e = v;
      while (e < n && !is_eol(b[e])) e++;
      int k = worker_tag(b, v, e);
      if (k >= 0 && k < workers) return k;
      break; /* only the top Via */
    }
  }
  for (size_t i = 0; i < n; i = next_line(b, n, i)) {
    size_t v = header_colon(b, n, i, "call-id", "i");
    if (v == 0) continue;
    size_t s = v, ws = 0;
    while (s < n && (b[s] == ' ' || b[s] == '\t')) s++, ws++;
    size_t e = s;
    while (e < n && e - s < 512 && !is_eol(b[e])) e++;
    if (e == s && ws == 0) continue; /* [^\r\n]{1,512} needs one character */
    while (s < e && js_space(b[s])) s++;
    while (e > s && js_space(b[e - 1])) e--;
    uint32_t h = 0x811c9dc5u;
    for (size_t k = s; k < e; k++) h = (h ^ b[k]) * 0x01000193u;
    return (int)(h % (uint32_t)workers);
  }
  return 0;
}

/* ---------------------------------------------------------------- receivers */

typedef struct {
  unsigned char *data;
  size_t len, cap;
  int32_t *meta;
  /* Datagrams [first, count) are queued; [0, first) were drained (space reused on compaction). */
  size_t count, meta_cap, first;
  napi_threadsafe_function tsfn;
  int signalled;
  uint64_t dropped;
} worker_queue;

typedef struct {
  int id, fd, stopfd, workers, stopping;
  /* Bytes queued for one worker that has not drained them: beyond this, drop (like a full
   * socket receive buffer; UDP retransmissions recover). */
  size_t queue_cap;
  pthread_t thread;
  pthread_mutex_t mu;
  uint64_t received, errors;
  worker_queue q[MAX_WORKERS];
} receiver;

typedef struct {
  int rid, worker;
  napi_threadsafe_function tsfn;
} attach_ctx;

static receiver *receivers[MAX_RECEIVERS];
static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;

/* Receiver ids are never reused (slot = id % MAX_RECEIVERS), so a stale id finds nothing. */
static int next_receiver_id = 0;

static receiver *find_receiver_locked(int id) {
  if (id < 0) return NULL;
  receiver *r = receivers[id % MAX_RECEIVERS];
  return r != NULL && r->id == id ? r : NULL;
}

static receiver *find_receiver(int id) {
  pthread_mutex_lock(&registry_mu);
  receiver *r = find_receiver_locked(id);
  pthread_mutex_unlock(&registry_mu);
  return r;
}

#include <time.h>

static int32_t monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int32_t)(uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

static void queue_reset(worker_queue *q) { q->len = 0, q->count = 0, q->first = 0; }

/* Bytes before the first queued datagram (already drained). */
static size_t drained_bytes(const worker_queue *q) { return q->first < q->count ? (size_t)q->meta[q->first * META_WORDS] : q->len; }

/* Moves the queued datagrams to the front of the arena (only when it must grow otherwise). */
static void compact(worker_queue *q) {
  if (q->first == 0) return;
  size_t off = drained_bytes(q), n = q->count - q->first;
  memmove(q->data, q->data + off, q->len - off);
  memmove(q->meta, q->meta + q->first * META_WORDS, n * META_WORDS * sizeof(int32_t));
  for (size_t i = 0; i < n; i++) q->meta[i * META_WORDS] -= (int32_t)off;
  q->len -= off, q->count = n, q->first = 0;
}

static int enqueue(worker_queue *q, size_t cap_bytes, const unsigned char *b, size_t len, const struct sockaddr_storage *from, int32_t now) {
  if (q->tsfn == NULL || q->len - drained_bytes(q) + len > cap_bytes) return 0;
  if (q->len + len > q->cap || (q->count + 1) * META_WORDS > q->meta_cap) compact(q);
  if (q->len + len > q->cap) {
    size_t cap = q->cap ? q->cap : 256 * 1024;
    while (cap < q->len + len) cap *= 2;
    unsigned char *d = realloc(q->data, cap);
    if (d == NULL) return 0;
    q->data = d, q->cap = cap;
  }
  if ((q->count + 1) * META_WORDS > q->meta_cap) {
    size_t cap = q->meta_cap ? q->meta_cap * 2 : 256 * META_WORDS;
    int32_t *m = realloc(q->meta, cap * sizeof(int32_t));
    if (m == NULL) return 0;
    q->meta = m, q->meta_cap = cap;
  }
  int32_t *m = q->meta + q->count * META_WORDS;
  memset(m, 0, META_WORDS * sizeof(int32_t));
  m[0] = (int32_t)q->len;
  m[1] = (int32_t)len;
  m[8] = now;
  if (from->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)from;
    m[2] = ntohs(a->sin6_port);
    m[3] = 6;
    memcpy(&m[4], &a->sin6_addr, 16);
  } else {
    const struct sockaddr_in *a = (const struct sockaddr_in *)from;
    m[2] = ntohs(a->sin_port);
    m[3] = 4;
    m[4] = (int32_t)ntohl(a->sin_addr.s_addr);
  }
  memcpy(q->data + q->len, b, len);
  q->len += len;
  q->count++;
  return 1;
}

static void *receive_loop(void *arg) {
  receiver *r = arg;
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_storage from[BATCH];
  unsigned char *bufs = malloc((size_t)BATCH * SLOT);
  if (bufs == NULL) return NULL;
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = bufs + (size_t)i * SLOT;
    iov[i].iov_len = SLOT;
  }
  struct pollfd pfd[2] = {{.fd = r->fd, .events = POLLIN}, {.fd = r->stopfd, .events = POLLIN}};
  int full = 1; /* the last read filled the batch: read again before waiting */
  while (!__atomic_load_n(&r->stopping, __ATOMIC_ACQUIRE)) {
    if (!full) {
      /* A short read emptied the socket: wait instead of a read that would say EAGAIN. */
      if (poll(pfd, 2, -1) < 0 && errno != EINTR) break;
      if (pfd[1].revents != 0) break;
    }
    for (int i = 0; i < BATCH; i++) {
      memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
    }
    int n = recvmmsg(r->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) {
        full = 1;
        continue;
      }
      /* e.g. a queued ICMP error (ECONNREFUSED): counted; the next read goes on. */
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) __atomic_add_fetch(&r->errors, 1, __ATOMIC_RELAXED);
      full = n < 0 && errno != EAGAIN && errno != EWOULDBLOCK;
      continue;
    }
    full = n == BATCH;
    int32_t now = monotonic_ms();
    pthread_mutex_lock(&r->mu);
    uint64_t dropped = 0;
    for (int i = 0; i < n; i++) {
      const unsigned char *b = iov[i].iov_base;
      size_t len = msgs[i].msg_len;
      int k = steer(b, len, r->workers);
      if (!enqueue(&r->q[k], r->queue_cap, b, len, &from[i], now)) r->q[k].dropped++, dropped++;
    }
    r->received += (uint64_t)n - dropped;
    for (int k = 0; k < r->workers; k++) {
      worker_queue *q = &r->q[k];
      if (q->count > q->first && !q->signalled && q->tsfn != NULL) {
        if (napi_call_threadsafe_function(q->tsfn, NULL, napi_tsfn_nonblocking) == napi_ok) q->signalled = 1;
      }
    }
    pthread_mutex_unlock(&r->mu);
  }
  free(bufs);
  return NULL;
}

/* ---------------------------------------------------------------- helpers */

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[160];
  snprintf(msg, sizeof(msg), "%s: %s", what, strerror(err));
  /* The code is the errno name Node uses for its own socket errors where we know it. */
  const char *code = err == EADDRINUSE ? "EADDRINUSE" : err == EADDRNOTAVAIL ? "EADDRNOTAVAIL" : err == EACCES ? "EACCES" : err == EINVAL ? "EINVAL" : "ERR_UDP_NATIVE";
  napi_throw_error(env, code, msg);
  return NULL;
}

static int arg_int(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok;
}

static napi_value int_value(napi_env env, int64_t n) {
  napi_value v;
  napi_create_int64(env, n, &v);
  return v;
}

/* The one integer argument of close/socketBuffers/stopReceiver/stats; false after a TypeError. */
static int one_int_arg(napi_env env, napi_callback_info info, int32_t *out, const char *usage) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc >= 1 && arg_int(env, argv[0], out)) return 1;
  napi_throw_type_error(env, NULL, usage);
  return 0;
}

/* [a, b] as a JavaScript array. */
static napi_value int_pair(napi_env env, int64_t a, int64_t b) {
  napi_value out;
  CHECK(env, napi_create_array_with_length(env, 2, &out));
  CHECK(env, napi_set_element(env, out, 0, int_value(env, a)));
  CHECK(env, napi_set_element(env, out, 1, int_value(env, b)));
  return out;
}

/* ---------------------------------------------------------------- sockets */

/* The socket address of IP literal `addr` and `port` in `family` (4 or 6): its length, or 0 when
 * `addr` is no address of that family. */
static socklen_t socket_address(int family, const char *addr, int port, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof(*ss));
  if (family == 6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    return inet_pton(AF_INET6, addr, &a->sin6_addr) == 1 ? sizeof(*a) : 0;
  }
  struct sockaddr_in *a = (struct sockaddr_in *)ss;
  a->sin_family = AF_INET;
  a->sin_port = htons((uint16_t)port);
  return inet_pton(AF_INET, addr, &a->sin_addr) == 1 ? sizeof(*a) : 0;
}

/* open(address, port, family, rcvbuf, sndbuf) -> [fd, port] */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char addr[64];
  size_t alen;
  int32_t port, family, rcvbuf, sndbuf;
  if (argc < 5 || napi_get_value_string_latin1(env, argv[0], addr, sizeof(addr), &alen) != napi_ok || !arg_int(env, argv[1], &port) ||
      !arg_int(env, argv[2], &family) || !arg_int(env, argv[3], &rcvbuf) || !arg_int(env, argv[4], &sndbuf)) {
    napi_throw_type_error(env, NULL, "open(address, port, family, rcvbuf, sndbuf)");
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t sslen = socket_address(family, addr, port, &ss);
  if (sslen == 0) return throw_errno(env, "listen address", EINVAL);
  int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int one = 1;
  if (family == 6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  /* As root, beyond net.core.rmem_max (what Node's dgram cannot ask for). */
  if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  if (sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) != 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  if (bind(fd, (struct sockaddr *)&ss, sslen) != 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "bind", e);
  }
  if (getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "getsockname", e);
  }
  int bound = family == 6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) : ntohs(((struct sockaddr_in *)&ss)->sin_port);
  return int_pair(env, fd, bound);
}

/* close(fd) */
static napi_value js_close(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!one_int_arg(env, info, &fd, "close(fd)")) return NULL;
  close(fd);
  return NULL;
}

/* socketBuffers(fd) -> [SO_RCVBUF, SO_SNDBUF] as the kernel reports them */
static napi_value js_socket_buffers(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!one_int_arg(env, info, &fd, "socketBuffers(fd)")) return NULL;
  int rcv = 0, snd = 0;
  socklen_t l = sizeof(int);
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, &l);
  l = sizeof(int);
  getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, &l);
  return int_pair(env, rcv, snd);
}

/*
 * send(fd, family, buffers, addresses, ports, count, errors) -> failures
 * Sends buffers[i] to addresses[i]:ports[i] with as few sendmmsg calls as the kernel allows.
 * errors[i] = 0 or the errno of datagram i. A full send buffer (EAGAIN) is waited out for up
 * to 10 ms, then the datagram is dropped with EAGAIN (UDP loss; retransmissions recover).
 */
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, family, count;
  int32_t *errs = NULL;
  size_t errs_len = 0;
  napi_typedarray_type tt;
  void *errs_data;
  if (argc < 7 || !arg_int(env, argv[0], &fd) || !arg_int(env, argv[1], &family) || !arg_int(env, argv[5], &count) ||
      napi_get_typedarray_info(env, argv[6], &tt, &errs_len, &errs_data, NULL, NULL) != napi_ok || tt != napi_int32_array ||
      errs_len < (size_t)count) {
    napi_throw_type_error(env, NULL, "send(fd, family, buffers, addresses, ports, count, errors)");
    return NULL;
  }
  errs = errs_data;
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_storage to[BATCH];
  int index[BATCH];
  int failures = 0;
  int i = 0;
  while (i < count) {
    int m = 0;
    for (; i < count && m < BATCH; i++) {
      napi_value b, a, p;
      void *data;
      size_t len;
      char addr[64];
      size_t alen;
      int32_t port;
      errs[i] = 0;
      if (napi_get_element(env, argv[2], (uint32_t)i, &b) != napi_ok || napi_get_buffer_info(env, b, &data, &len) != napi_ok ||
          napi_get_element(env, argv[3], (uint32_t)i, &a) != napi_ok ||
          napi_get_value_string_latin1(env, a, addr, sizeof(addr), &alen) != napi_ok || napi_get_element(env, argv[4], (uint32_t)i, &p) != napi_ok ||
          !arg_int(env, p, &port) || port <= 0 || port > 65535) {
        errs[i] = EINVAL, failures++;
        continue;
      }
      socklen_t tolen = socket_address(family, addr, port, &to[m]);
      if (tolen == 0) {
        errs[i] = EINVAL, failures++;
        continue;
      }
      iov[m].iov_base = data;
      iov[m].iov_len = len;
      memset(&msgs[m].msg_hdr, 0, sizeof(msgs[m].msg_hdr));
      msgs[m].msg_hdr.msg_iov = &iov[m];
      msgs[m].msg_hdr.msg_iovlen = 1;
      msgs[m].msg_hdr.msg_name = &to[m];
      msgs[m].msg_hdr.msg_namelen = tolen;
      index[m] = i;
      m++;
    }
    int done = 0, waited = 0;
    while (done < m) {
      int n = sendmmsg(fd, msgs + done, (unsigned)(m - done), 0);
      if (n > 0) {
        done += n;
        continue;
      }
      int e = errno;
      if (e == EINTR) continue;
      if ((e == EAGAIN || e == EWOULDBLOCK) && !waited) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        poll(&pfd, 1, 10);
        waited = 1;
        continue;
      }
      errs[index[done]] = e, failures++;
      done++;
    }
  }
  return int_value(env, failures);
}

/* ---------------------------------------------------------------- receiver API */

/* startReceiver(fd, workers, queueBytes) -> id */
static napi_value js_start_receiver(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd, workers, queue_bytes;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3 || !arg_int(env, argv[0], &fd) || !arg_int(env, argv[1], &workers) || workers < 1 || workers > MAX_WORKERS ||
      !arg_int(env, argv[2], &queue_bytes) || queue_bytes < 65536) {
    napi_throw_type_error(env, NULL, "startReceiver(fd, workers 1..64, queueBytes >= 65536)");
    return NULL;
  }
  receiver *r = calloc(1, sizeof(receiver));
  if (r == NULL) return throw_errno(env, "startReceiver", ENOMEM);
  r->fd = fd, r->workers = workers, r->queue_cap = (size_t)queue_bytes;
  r->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (r->stopfd < 0) {
    int e = errno;
    free(r);
    return throw_errno(env, "eventfd", e);
  }
  pthread_mutex_init(&r->mu, NULL);
  pthread_mutex_lock(&registry_mu);
  int id = -1;
  for (int i = 0; i < MAX_RECEIVERS; i++) {
    int candidate = next_receiver_id + i;
    if (receivers[candidate % MAX_RECEIVERS] == NULL) {
      id = candidate;
      break;
    }
  }
  if (id >= 0) receivers[id % MAX_RECEIVERS] = r, r->id = id, next_receiver_id = id + 1;
  pthread_mutex_unlock(&registry_mu);
  if (id < 0) {
    close(r->stopfd);
    free(r);
    return throw_errno(env, "startReceiver: too many receivers", EMFILE);
  }
  int e = pthread_create(&r->thread, NULL, receive_loop, r);
  /* Named for top -H / perf: the thread that reads the SIP socket. */
  if (e == 0) pthread_setname_np(r->thread, "sip-udp-recv");
  if (e != 0) {
    pthread_mutex_lock(&registry_mu);
    receivers[id % MAX_RECEIVERS] = NULL;
    pthread_mutex_unlock(&registry_mu);
    close(r->stopfd);
    free(r);
    return throw_errno(env, "pthread_create", e);
  }
  return int_value(env, id);
}

/* stopReceiver(id): the thread is joined; queued datagrams are dropped. */
static napi_value js_stop_receiver(napi_env env, napi_callback_info info) {
  int32_t id;
  if (!one_int_arg(env, info, &id, "stopReceiver(id)")) return NULL;
  receiver *r = find_receiver(id);
  if (r == NULL) return NULL;
  __atomic_store_n(&r->stopping, 1, __ATOMIC_RELEASE);
  uint64_t one = 1;
  ssize_t w = write(r->stopfd, &one, sizeof(one));
  (void)w;
  pthread_join(r->thread, NULL);
  /* Out of the registry before it is freed: a finalizer holds registry_mu while it uses it. */
  pthread_mutex_lock(&registry_mu);
  receivers[id % MAX_RECEIVERS] = NULL;
  pthread_mutex_unlock(&registry_mu);
  for (int k = 0; k < MAX_WORKERS; k++) {
    if (r->q[k].tsfn != NULL) napi_release_threadsafe_function(r->q[k].tsfn, napi_tsfn_abort);
    free(r->q[k].data);
    free(r->q[k].meta);
  }
  close(r->stopfd);
  pthread_mutex_destroy(&r->mu);
  free(r);
  return NULL;
}

static void call_readable(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)context, (void)data;
  if (env == NULL || js_cb == NULL) return;
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  napi_call_function(env, undefined, js_cb, 0, NULL, NULL);
}

/* A worker's environment went away (or it detached): the receiver must not call it again. */
static void tsfn_finalized(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  attach_ctx *ctx = data;
  pthread_mutex_lock(&registry_mu);
  receiver *r = find_receiver_locked(ctx->rid);
  if (r != NULL) {
    pthread_mutex_lock(&r->mu);
    worker_queue *q = &r->q[ctx->worker];
    if (q->tsfn == ctx->tsfn) q->tsfn = NULL, q->signalled = 0, queue_reset(q);
    pthread_mutex_unlock(&r->mu);
  }
  pthread_mutex_unlock(&registry_mu);
  free(ctx);
}

/*
 * The (id, worker, ...) arguments of attach/detach/drain: the receiver, or NULL. Throws a
 * TypeError (`usage`) when they are not numbers; an unknown receiver or worker is NULL without
 * an exception (a thread detaching after its receiver stopped).
 */
static receiver *receiver_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, int32_t *id, int32_t *worker, const char *usage) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want || !arg_int(env, argv[0], id) || !arg_int(env, argv[1], worker)) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  receiver *r = find_receiver(*id);
  return r != NULL && *worker >= 0 && *worker < r->workers ? r : NULL;
}

/* attach(id, worker, onReadable): datagrams for `worker` are queued from now on, and
 * onReadable() runs on the calling thread's event loop when some are waiting (drain them). */
static napi_value js_attach(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t id, worker;
  receiver *r = receiver_args(env, info, 3, argv, &id, &worker, "attach(id, worker, onReadable)");
  if (r == NULL) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_range_error(env, NULL, "attach: no such receiver or worker");
    return NULL;
  }
  attach_ctx *ctx = calloc(1, sizeof(attach_ctx));
  if (ctx == NULL) return throw_errno(env, "attach", ENOMEM);
  ctx->rid = id, ctx->worker = worker;
  napi_value name;
  CHECK(env, napi_create_string_utf8(env, "udp-native-readable", NAPI_AUTO_LENGTH, &name));
  napi_threadsafe_function tsfn;
  if (napi_create_threadsafe_function(env, argv[2], NULL, name, 0, 1, ctx, tsfn_finalized, NULL, call_readable, &tsfn) != napi_ok) {
    free(ctx);
    napi_throw_error(env, "UDP_NATIVE", "attach: cannot create the thread-safe function");
    return NULL;
  }
  ctx->tsfn = tsfn;
  /* Referenced like an open dgram socket: the thread stays alive until close() detaches. */
  pthread_mutex_lock(&r->mu);
  napi_threadsafe_function old = r->q[worker].tsfn;
  r->q[worker].tsfn = tsfn;
  r->q[worker].signalled = 0;
  pthread_mutex_unlock(&r->mu);
  if (old != NULL) napi_release_threadsafe_function(old, napi_tsfn_abort);
  return NULL;
}

/* detach(id, worker): stop queueing for `worker`; what is queued is dropped. */
static napi_value js_detach(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t id, worker;
  receiver *r = receiver_args(env, info, 2, argv, &id, &worker, "detach(id, worker)");
  if (r == NULL) return NULL;
  pthread_mutex_lock(&r->mu);
  napi_threadsafe_function t = r->q[worker].tsfn;
  r->q[worker].tsfn = NULL;
  r->q[worker].signalled = 0;
  queue_reset(&r->q[worker]);
  pthread_mutex_unlock(&r->mu);
  if (t != NULL) napi_release_threadsafe_function(t, napi_tsfn_abort);
  return NULL;
}

/*
 * drain(id, worker, max) -> Buffer | undefined
 * The next (at most `max`) datagrams queued for `worker`, as one Buffer: int32 count, int32
 * still queued after these, int32 ms the first of them waited, then META_WORDS int32 per
 * datagram (offset from the data start, length, port, family, address: IPv4 as one host-order
 * word, IPv6 as 16 bytes; queued at), then the datagrams' bytes. While some stay queued the receiver does not signal again: the caller
 * drains on by itself (after letting its event loop run), so a backlog never becomes one long
 * turn of the loop.
 */
static napi_value js_drain(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t id, worker, max;
  receiver *r = receiver_args(env, info, 3, argv, &id, &worker, "drain(id, worker, max)");
  if (r == NULL) return NULL;
  if (!arg_int(env, argv[2], &max) || max < 1) {
    napi_throw_type_error(env, NULL, "drain(id, worker, max >= 1)");
    return NULL;
  }
  pthread_mutex_lock(&r->mu);
  worker_queue *q = &r->q[worker];
  size_t avail = q->count - q->first;
  if (avail == 0) {
    queue_reset(q);
    q->signalled = 0;
    pthread_mutex_unlock(&r->mu);
    return NULL;
  }
  size_t k = avail < (size_t)max ? avail : (size_t)max;
  const int32_t *m = q->meta + q->first * META_WORDS;
  size_t from = (size_t)m[0];
  size_t to = (size_t)m[(k - 1) * META_WORDS] + (size_t)m[(k - 1) * META_WORDS + 1];
  size_t head = BATCH_HEAD + k * META_WORDS * sizeof(int32_t);
  void *out;
  napi_value buf;
  if (napi_create_buffer(env, head + (to - from), &out, &buf) != napi_ok) {
    pthread_mutex_unlock(&r->mu);
    napi_throw_error(env, "UDP_NATIVE", "drain: cannot allocate");
    return NULL;
  }
  int32_t waited = (int32_t)((uint32_t)monotonic_ms() - (uint32_t)m[8]);
  int32_t counts[3] = {(int32_t)k, (int32_t)(avail - k), waited < 0 ? 0 : waited};
  memcpy(out, counts, sizeof(counts));
  int32_t *om = (int32_t *)((char *)out + BATCH_HEAD);
  memcpy(om, m, k * META_WORDS * sizeof(int32_t));
  for (size_t i = 0; i < k; i++) om[i * META_WORDS] -= (int32_t)from;
  memcpy((char *)out + head, q->data + from, to - from);
  q->first += k;
  if (q->first == q->count) {
    queue_reset(q);
    q->signalled = 0;
    /* Give back what a burst grew far beyond the usual batch (tens of KB). */
    if (q->cap > 1024u * 1024u) free(q->data), q->data = NULL, q->cap = 0;
  }
  pthread_mutex_unlock(&r->mu);
  return buf;
}

/* stats(id) -> [received, dropped (all workers), read errors] */
static napi_value js_stats(napi_env env, napi_callback_info info) {
  int32_t id;
  if (!one_int_arg(env, info, &id, "stats(id)")) return NULL;
  receiver *r = find_receiver(id);
  if (r == NULL) return NULL;
  pthread_mutex_lock(&r->mu);
  uint64_t dropped = 0;
  for (int k = 0; k < r->workers; k++) dropped += r->q[k].dropped;
  uint64_t received = r->received;
  pthread_mutex_unlock(&r->mu);
  napi_value out;
  CHECK(env, napi_create_array_with_length(env, 3, &out));
  CHECK(env, napi_set_element(env, out, 0, int_value(env, (int64_t)received)));
  CHECK(env, napi_set_element(env, out, 1, int_value(env, (int64_t)dropped)));
  CHECK(env, napi_set_element(env, out, 2, int_value(env, (int64_t)__atomic_load_n(&r->errors, __ATOMIC_RELAXED))));
  return out;
}

/* steer(buffer, workers) -> worker: the receiver's steering, exposed for tests. */
static napi_value js_steer(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  void *data;
  size_t len;
  int32_t workers;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok || !arg_int(env, argv[1], &workers)) {
    napi_throw_type_error(env, NULL, "steer(buffer, workers)");
    return NULL;
  }
  return int_value(env, steer(data, len, workers));
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"socketBuffers", NULL, js_socket_buffers, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL},
      {"startReceiver", NULL, js_start_receiver, NULL, NULL, NULL, napi_default, NULL},
      {"stopReceiver", NULL, js_stop_receiver, NULL, NULL, NULL, napi_default, NULL},
      {"attach", NULL, js_attach, NULL, NULL, NULL, napi_default, NULL},
      {"detach", NULL, js_detach, NULL, NULL, NULL, napi_default, NULL},
      {"drain", NULL, js_drain, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
      {"steer", NULL, js_steer, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) return NULL;
  return exports;
}
