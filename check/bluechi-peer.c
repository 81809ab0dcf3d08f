// qm-probe's BlueChi cases, included by qm-probe.c (they share its report()): a minimal bluechi-agent that
// connects to a controller socket, authenticates (D-Bus SASL EXTERNAL) and calls
// org.eclipse.bluechi.internal.Controller.Register(name), as bluechi-agent's agent_connect() does, peer to peer.
// What QM root could do by hand if anything but QM's own registration reached the controller.
//
// bluechi_register SOCKET NAME   one registration: "allowed" when the controller accepted the name
// bluechi_hold SOCKET NAME       the same, then holds the connection until killed (a host agent standing in)
// bluechi_flood SOCKET COUNT:NAME  opens COUNT connections at once, then registers NAME on each; "allowed" when any
//                                was accepted; the evidence counts what happened to each
#include <sys/un.h>

enum { PEER_REGISTERED = 1, PEER_REFUSED = 0, PEER_CLOSED = -1 };

struct wire {
  unsigned char data[2048];
  size_t length;
};

static void wire_pad(struct wire *wire, size_t alignment) {
  while (wire->length % alignment) wire->data[wire->length++] = 0;
}

static void wire_u32_at(struct wire *wire, size_t at, uint32_t value) {
  for (int i = 0; i < 4; i++) wire->data[at + i] = (unsigned char)(value >> (8 * i));
}

static void wire_string(struct wire *wire, const char *text) {
  wire_pad(wire, 4);
  size_t length = strlen(text);
  wire_u32_at(wire, wire->length, (uint32_t)length);
  memcpy(wire->data + wire->length + 4, text, length + 1);
  wire->length += 4 + length + 1;
}

static void wire_signature(struct wire *wire, const char *text) {
  size_t length = strlen(text);
  wire->data[wire->length++] = (unsigned char)length;
  memcpy(wire->data + wire->length, text, length + 1);
  wire->length += length + 1;
}

/** One header field: (BYTE code, VARIANT value), 8-aligned. */
static void wire_field(struct wire *wire, unsigned char code, char type, const char *value) {
  wire_pad(wire, 8);
  wire->data[wire->length++] = code;
  const char signature[2] = {type, 0};
  wire_signature(wire, signature);
  if (type == 'g') wire_signature(wire, value);
  else wire_string(wire, value);
}

/** Register(name) as bluechi-agent sends it: little-endian, serial 1. */
static void register_call(struct wire *wire, const char *name) {
  memset(wire, 0, sizeof *wire);
  memcpy(wire->data, "l\1\0\1", 4);
  wire->length = 16;
  wire_field(wire, 1, 'o', "/org/eclipse/bluechi/internal");
  wire_field(wire, 2, 's', "org.eclipse.bluechi.internal.Controller");
  wire_field(wire, 3, 's', "Register");
  wire_field(wire, 6, 's', "org.eclipse.bluechi");
  wire_field(wire, 8, 'g', "s");
  size_t fields = wire->length - 16;
  wire_pad(wire, 8);
  size_t body = wire->length;
  wire_string(wire, name);
  wire_u32_at(wire, 4, (uint32_t)(wire->length - body));
  wire_u32_at(wire, 8, 1);
  wire_u32_at(wire, 12, (uint32_t)fields);
}

static int peer_connect(const char *path) {
  /* A peer that hangs up is an outcome to report, not a reason to die of SIGPIPE. */
  signal(SIGPIPE, SIG_IGN);
  struct sockaddr_un address = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof address.sun_path) return -ENAMETOOLONG;
  strcpy(address.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  struct timeval timeout = {.tv_sec = 5};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (connect(fd, (struct sockaddr *)&address, sizeof address) < 0) {
    int error = errno;
    close(fd);
    return -error;
  }
  return fd;
}

static int read_exactly(int fd, unsigned char *buffer, size_t length) {
  for (size_t done = 0; done < length;) {
    ssize_t got = read(fd, buffer + done, length - done);
    if (got <= 0) return -1;
    done += (size_t)got;
  }
  return 0;
}

static uint32_t le32(const unsigned char *at) {
  return (uint32_t)at[0] | (uint32_t)at[1] << 8 | (uint32_t)at[2] << 16 | (uint32_t)at[3] << 24;
}

/** The string at `at` (4-aligned length, bytes, NUL) of `message`; advances `at`. */
static const char *message_string(const unsigned char *message, size_t length, size_t *at) {
  *at = (*at + 3) & ~(size_t)3;
  if (*at + 4 > length) return NULL;
  uint32_t size = le32(message + *at);
  if (*at + 4 + size + 1 > length) return NULL;
  const char *text = (const char *)message + *at + 4;
  *at += 4 + size + 1;
  return text;
}

/** Authenticates and registers `name` on `fd`; the controller's answer goes into `evidence`. */
static int peer_register(int fd, const char *name, char *evidence, size_t size) {
  char auth[64];
  /* The hex of the decimal uid's digits, as the specification has it. */
  char uid[16], hex[40] = "";
  snprintf(uid, sizeof uid, "%u", (unsigned)geteuid());
  for (char *digit = uid; *digit; digit++) snprintf(hex + strlen(hex), sizeof hex - strlen(hex), "%02x", (unsigned char)*digit);
  /* BEGIN goes with AUTH, as sd-bus's client sends it: an sd-bus server that reads BEGIN and the first message in
     one go leaves the message unread until something else wakes it. */
  int auth_length = snprintf(auth, sizeof auth, "%cAUTH EXTERNAL %s\r\nBEGIN\r\n", 0, hex);
  if (write(fd, auth, (size_t)auth_length) != auth_length) return snprintf(evidence, size, "closed while authenticating"), PEER_CLOSED;
  char line[256];
  size_t got = 0;
  while (got < sizeof line - 1 && (got < 2 || memcmp(line + got - 2, "\r\n", 2) != 0)) {
    if (read(fd, line + got, 1) != 1) return snprintf(evidence, size, "closed while authenticating"), PEER_CLOSED;
    got++;
  }
  line[got] = 0;
  if (strncmp(line, "OK ", 3) != 0) return snprintf(evidence, size, "authentication refused: %.*s", (int)strcspn(line, "\r"), line), PEER_REFUSED;
  struct wire call;
  register_call(&call, name);
  if (write(fd, call.data, call.length) != (ssize_t)call.length) {
    return snprintf(evidence, size, "closed before Register was sent"), PEER_CLOSED;
  }
  /* Messages until the reply to serial 1: the controller may call the agent first. */
  for (;;) {
    unsigned char header[16];
    if (read_exactly(fd, header, sizeof header) < 0) return snprintf(evidence, size, "closed without answering Register"), PEER_CLOSED;
    if (header[0] != 'l') return snprintf(evidence, size, "a big-endian answer, which this probe does not read"), PEER_CLOSED;
    size_t fields = le32(header + 12), body = le32(header + 4);
    size_t length = 16 + ((fields + 7) & ~(size_t)7) + body;
    if (length > (1u << 20)) return snprintf(evidence, size, "an answer of %zu bytes", length), PEER_CLOSED;
    unsigned char *message = malloc(length);
    if (message == NULL) return snprintf(evidence, size, "out of memory"), PEER_CLOSED;
    memcpy(message, header, 16);
    if (read_exactly(fd, message + 16, length - 16) < 0) {
      free(message);
      return snprintf(evidence, size, "closed in the middle of an answer"), PEER_CLOSED;
    }
    uint32_t reply_serial = 0;
    const char *error_name = NULL;
    for (size_t at = 16; at < 16 + fields;) {
      at = (at + 7) & ~(size_t)7;
      unsigned char code = message[at];
      char type = (char)message[at + 2];
      at += 4;
      if (type == 'u') {
        at = (at + 3) & ~(size_t)3;
        if (code == 5) reply_serial = le32(message + at);
        at += 4;
      } else if (type == 'g') {
        at += 1 + message[at] + 1;
      } else {
        const char *text = message_string(message, length, &at);
        if (text == NULL) break;
        if (code == 4) error_name = text;
      }
    }
    int outcome = PEER_CLOSED;
    if (reply_serial == 1 && header[1] == 2) {
      snprintf(evidence, size, "registered as %s", name);
      outcome = PEER_REGISTERED;
    } else if (reply_serial == 1 && header[1] == 3) {
      size_t at = 16 + ((fields + 7) & ~(size_t)7);
      const char *text = body > 0 ? message_string(message, length, &at) : NULL;
      snprintf(evidence, size, "%s: %s", error_name ? error_name : "an error", text ? text : "");
      outcome = PEER_REFUSED;
    }
    free(message);
    if (reply_serial == 1) return outcome;
  }
}

static int probe_bluechi_register(const char *path, const char *name) {
  int fd = peer_connect(path);
  if (fd < 0) return report("refused", -fd, "connect(%s) failed", path);
  char evidence[600];
  int outcome = peer_register(fd, name, evidence, sizeof evidence);
  return report(outcome == PEER_REGISTERED ? "allowed" : "refused", 0, "Register(%s) on %s: %s", name, path, evidence);
}

static int probe_bluechi_hold(const char *path, const char *name) {
  int fd = peer_connect(path);
  if (fd < 0) return report("error", -fd, "connect(%s) failed", path);
  char evidence[600];
  if (peer_register(fd, name, evidence, sizeof evidence) != PEER_REGISTERED) return report("error", 0, "Register(%s) on %s: %s", name, path, evidence);
  /* Say so, then hold the connection (as a connected agent) until killed or the controller hangs up. */
  if (fork() == 0) report("allowed", 0, "registered as %s on %s; holding the connection", name, path);
  wait(NULL);
  fflush(stdout);
  char byte;
  struct timeval forever = {0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &forever, sizeof forever);
  while (read(fd, &byte, 1) > 0) {
  }
  return 0;
}

static int probe_bluechi_flood(const char *path, const char *spec) {
  char name[256];
  int count = 0;
  if (sscanf(spec, "%d:%255s", &count, name) != 2 || count < 1 || count > 1000) return report("error", EINVAL, "expected COUNT:NAME, COUNT 1-1000, not %s", spec);
  int *fds = calloc((size_t)count, sizeof *fds);
  if (fds == NULL) return report("error", ENOMEM, "calloc failed");
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  int connect_failed = 0, registered = 0, refused = 0, closed = 0;
  char last_refusal[600] = "", last_closed[600] = "";
  for (int i = 0; i < count; i++) {
    fds[i] = peer_connect(path);
    if (fds[i] < 0) connect_failed++;
  }
  for (int i = 0; i < count; i++) {
    if (fds[i] < 0) continue;
    char evidence[600];
    int outcome = peer_register(fds[i], name, evidence, sizeof evidence);
    if (outcome == PEER_REGISTERED) registered++;
    else if (outcome == PEER_REFUSED) refused++, snprintf(last_refusal, sizeof last_refusal, "%s", evidence);
    else closed++, snprintf(last_closed, sizeof last_closed, "%s", evidence);
  }
  for (int i = 0; i < count; i++) if (fds[i] >= 0) close(fds[i]);
  clock_gettime(CLOCK_MONOTONIC, &end);
  double milliseconds = (double)(end.tv_sec - start.tv_sec) * 1e3 + (double)(end.tv_nsec - start.tv_nsec) / 1e6;
  return report(registered > 0 ? "allowed" : "refused", 0,
                "%d connections to %s registering %s in %.0f ms: %d registered, %d refused with an error (%s), %d closed (%s), %d could not connect",
                count, path, name, milliseconds, registered, refused, last_refusal, closed, last_closed, connect_failed);
}
