/*
 * A light HTTP/1.1 load generator for the chat benchmark (driven by http-load.ts): `concurrency` keep-alive
 * connections on one thread, each sending the same request again as soon as the previous answer is complete.
 * Written in C so that on a small machine the client's own CPU barely competes with the servers it measures.
 *
 *   http-load HOST PORT REQUEST_FILE CONCURRENCY REQUESTS [MARKER]
 *
 * REQUEST_FILE holds the whole request (head and body). Prints one line per response, in microseconds from the
 * request's write: "first_byte marker total" (marker = first occurrence of MARKER in the body, or total when it
 * never came), then a last line "failed N" counting non-2xx answers. Errors go to stderr with exit status 1.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { HEAD, BODY_LENGTH, CHUNK_SIZE, CHUNK_DATA, CHUNK_DATA_END, TRAILER, DONE };

struct conn {
  int fd;
  int state;
  double began, first_byte, marker;
  char head[16384];
  size_t head_len;
  long remaining;   /* body bytes left (content-length) or bytes left in this chunk */
  char line[64];    /* chunk-size or trailer line being read */
  size_t line_len;
  char carry[64];   /* the marker's possible prefix at the end of the previous read */
  size_t carry_len;
};

static const char *request;
static size_t request_len;
static const char *marker;
static size_t marker_len;
static long started, finished, total_requests, failed;
static double *results;

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void send_request(struct conn *c) {
  c->state = HEAD;
  c->head_len = c->line_len = c->carry_len = 0;
  c->first_byte = c->marker = 0;
  c->began = now_us();
  started++;
  size_t sent = 0;
  while (sent < request_len) {
    ssize_t n = write(c->fd, request + sent, request_len - sent);
    if (n < 0 && errno != EINTR && errno != EAGAIN) die("write");
    if (n > 0) sent += (size_t)n;
  }
}

/* Looks for the marker in body bytes, across the boundary with the previous read. */
static void find_marker(struct conn *c, const char *data, size_t len, double at) {
  if (!marker_len || c->marker) return;
  char joined[128];
  size_t head = len < marker_len ? len : marker_len - 1;
  memcpy(joined, c->carry, c->carry_len);
  memcpy(joined + c->carry_len, data, head);
  if (memmem(joined, c->carry_len + head, marker, marker_len) || memmem(data, len, marker, marker_len)) {
    c->marker = at;
    return;
  }
  /* Keep the last marker_len - 1 bytes seen, for the next read. */
  size_t keep = marker_len - 1;
  if (len >= keep) {
    memcpy(c->carry, data + len - keep, keep);
    c->carry_len = keep;
  } else {
    size_t old = c->carry_len + len > keep ? c->carry_len + len - keep : 0;
    memmove(c->carry, c->carry + old, c->carry_len - old);
    memcpy(c->carry + c->carry_len - old, data, len);
    c->carry_len = c->carry_len - old + len;
  }
}

/* Reads a CRLF-terminated line byte by byte into c->line; returns 1 when it is complete. */
static int take_line(struct conn *c, const char **p, const char *end) {
  while (*p < end) {
    char ch = *(*p)++;
    if (ch == '\n') {
      c->line[c->line_len < sizeof c->line ? c->line_len : sizeof c->line - 1] = 0;
      return 1;
    }
    if (ch != '\r' && c->line_len < sizeof c->line - 1) c->line[c->line_len++] = ch;
  }
  return 0;
}

/* Feeds body bytes through the framing; returns 1 when the response is complete. */
static int feed_body(struct conn *c, const char *p, const char *end, double at) {
  while (p < end && c->state != DONE) {
    switch (c->state) {
      case BODY_LENGTH: {
        size_t n = (size_t)(end - p) < (size_t)c->remaining ? (size_t)(end - p) : (size_t)c->remaining;
        find_marker(c, p, n, at);
        p += n;
        c->remaining -= (long)n;
        if (!c->remaining) c->state = DONE;
        break;
      }
      case CHUNK_SIZE:
        if (take_line(c, &p, end)) {
          c->remaining = strtol(c->line, NULL, 16);
          c->line_len = 0;
          c->state = c->remaining ? CHUNK_DATA : TRAILER;
        }
        break;
      case CHUNK_DATA: {
        size_t n = (size_t)(end - p) < (size_t)c->remaining ? (size_t)(end - p) : (size_t)c->remaining;
        find_marker(c, p, n, at);
        p += n;
        c->remaining -= (long)n;
        if (!c->remaining) c->state = CHUNK_DATA_END;
        break;
      }
      case CHUNK_DATA_END:
        if (take_line(c, &p, end)) {
          c->line_len = 0;
          c->state = CHUNK_SIZE;
        }
        break;
      case TRAILER:
        if (take_line(c, &p, end)) {
          int empty = c->line_len == 0;
          c->line_len = 0;
          if (empty) c->state = DONE;
        }
        break;
    }
  }
  return c->state == DONE;
}

/* Handles one read; returns 1 when the response is complete. */
static int on_data(struct conn *c, const char *data, size_t len, double at) {
  if (!c->first_byte) c->first_byte = at;
  if (c->state != HEAD) return feed_body(c, data, data + len, at);
  size_t room = sizeof c->head - 1 - c->head_len;
  size_t n = len < room ? len : room;
  memcpy(c->head + c->head_len, data, n);
  c->head_len += n;
  c->head[c->head_len] = 0;
  char *end = strstr(c->head, "\r\n\r\n");
  if (!end) {
    if (c->head_len == sizeof c->head - 1) {
      fprintf(stderr, "response head too long\n");
      exit(1);
    }
    return 0;
  }
  *end = 0;
  size_t head_bytes = (size_t)(end - c->head) + 4;
  /* Header names are case-insensitive: compare on a lower-cased copy. */
  for (char *q = c->head; *q; q++) *q = (char)(*q >= 'A' && *q <= 'Z' ? *q + 32 : *q);
  int status = atoi(c->head + 9);
  if (status < 200 || status > 299) failed++;
  char *length = strstr(c->head, "\r\ncontent-length:");
  if (strstr(c->head, "\r\ntransfer-encoding: chunked")) {
    c->state = CHUNK_SIZE;
  } else if (length) {
    c->remaining = atol(length + 17);
    c->state = c->remaining ? BODY_LENGTH : DONE;
  } else {
    fprintf(stderr, "response without content-length or chunked encoding\n");
    exit(1);
  }
  /* The bytes of this read past the head belong to the body. */
  size_t consumed = head_bytes - (c->head_len - n);
  return c->state == DONE || feed_body(c, data + consumed, data + len, at);
}

static int connect_to(const char *host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    fprintf(stderr, "host must be an IPv4 address: %s\n", host);
    exit(1);
  }
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: http-load HOST PORT REQUEST_FILE CONCURRENCY REQUESTS [MARKER]\n");
    return 2;
  }
  FILE *f = fopen(argv[3], "rb");
  if (!f) die(argv[3]);
  static char buffer[1 << 20];
  request_len = fread(buffer, 1, sizeof buffer, f);
  fclose(f);
  request = buffer;
  int concurrency = atoi(argv[4]);
  total_requests = atol(argv[5]);
  marker = argc > 6 ? argv[6] : "";
  marker_len = strlen(marker);
  if (marker_len >= 64 || concurrency < 1 || total_requests < 1) {
    fprintf(stderr, "concurrency and requests must be positive; the marker shorter than 64 bytes\n");
    return 2;
  }
  results = malloc(sizeof(double) * 3 * (size_t)total_requests);
  struct conn *conns = calloc((size_t)concurrency, sizeof *conns);
  int ep = epoll_create1(0);
  for (int i = 0; i < concurrency; i++) {
    conns[i].fd = connect_to(argv[1], atoi(argv[2]));
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev) < 0) die("epoll_ctl");
  }
  for (int i = 0; i < concurrency && started < total_requests; i++) send_request(&conns[i]);

  static char data[65536];
  struct epoll_event events[64];
  while (finished < total_requests) {
    int ready = epoll_wait(ep, events, 64, 30000);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      fprintf(stderr, "no answer for 30 s (%ld of %ld done)\n", finished, total_requests);
      return 1;
    }
    for (int i = 0; i < ready; i++) {
      struct conn *c = events[i].data.ptr;
      ssize_t n = read(c->fd, data, sizeof data);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n <= 0) {
        fprintf(stderr, "the server closed a connection (%ld of %ld done)\n", finished, total_requests);
        return 1;
      }
      double at = now_us();
      if (!on_data(c, data, (size_t)n, at)) continue;
      double *r = results + 3 * finished++;
      r[0] = c->first_byte - c->began;
      r[1] = (c->marker ? c->marker : at) - c->began;
      r[2] = at - c->began;
      if (started < total_requests) send_request(c);
    }
  }
  for (long i = 0; i < finished; i++) printf("%.1f %.1f %.1f\n", results[3 * i], results[3 * i + 1], results[3 * i + 2]);
  printf("failed %ld\n", failed);
  return 0;
}
