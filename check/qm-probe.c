// qm-probe: one isolation probe per subcommand, for `qmctl check`. Run as root inside QM, inside a container
// nested in QM, or on the host; prints one JSON line {"case", "outcome", "errno", "evidence"}.
//
// Every case is a harmless variant: the kernel checks permission before the call has any effect, and what would
// follow the check either changes nothing (the same value written back, an invalid image, no segments) or is
// undone at once (a queue unlinked, a device node removed). A probe that is allowed therefore never damages the
// machine; it only proves that QM could have.
//
// outcome: "refused"     the kernel (capability, seccomp, read-only mount, device cgroup) said no, or the
//                        thing does not exist from here
//          "allowed"     the permission check passed: from here the escape would work
//          "unsupported" this kernel cannot do it for anyone (ENOSYS from the kernel, not from seccomp)
//          "error"       the probe could not be set up (bad arguments, nothing to probe)
// Static (gcc -static): it runs in a nested container whose root holds nothing else.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <arpa/inet.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *case_name = "";

static void json_string(const char *text) {
  putchar('"');
  for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
    if (*p == '"' || *p == '\\') printf("\\%c", *p);
    else if (*p == '\n') fputs("\\n", stdout);
    else if (*p < 0x20) printf("\\u%04x", *p);
    else putchar(*p);
  }
  putchar('"');
}

/** Prints the result line and exits 0: the outcome is in the JSON, not the exit code. */
__attribute__((format(printf, 3, 4))) static int report(const char *outcome, int error, const char *format, ...) {
  char evidence[1024];
  va_list args;
  va_start(args, format);
  vsnprintf(evidence, sizeof evidence, format, args);
  va_end(args);
  fputs("{\"case\":", stdout);
  json_string(case_name);
  fputs(",\"outcome\":", stdout);
  json_string(outcome);
  fputs(",\"errno\":", stdout);
  if (error) json_string(strerrorname_np(error) ? strerrorname_np(error) : "unknown");
  else fputs("null", stdout);
  fputs(",\"evidence\":", stdout);
  json_string(evidence);
  fputs("}\n", stdout);
  exit(0);
}

/** A permission errno means the call was refused before it could act. */
static int is_refusal(int error) { return error == EPERM || error == EACCES || error == EROFS; }

/** A file that exists exactly when the kernel has the system call being probed; NULL: every kernel has it. */
static const char *kernel_marker = NULL;

/**
 * The usual ending: refused on a permission errno, allowed when it got past the check. ENOSYS comes from a seccomp
 * filter (podman's profiles answer ENOSYS) unless the kernel was built without the call (its marker is missing).
 */
static int judge(long result, int error, const char *what) {
  if (result >= 0) return report("allowed", 0, "%s succeeded", what);
  if (is_refusal(error)) return report("refused", error, "%s: %s", what, strerror(error));
  if (error == ENOSYS && kernel_marker && access(kernel_marker, F_OK) < 0) return report("unsupported", error, "%s: this kernel was built without it (no %s)", what, kernel_marker);
  if (error == ENOSYS) return report("refused", error, "%s: refused by the seccomp filter (the kernel has the call%s%s)", what, kernel_marker ? ": " : "", kernel_marker ? kernel_marker : "");
  return report("allowed", error, "%s got past the permission check: %s", what, strerror(error));
}

static int read_text(const char *path, char *buffer, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buffer, size - 1);
  int saved = errno;
  close(fd);
  if (n < 0) {
    errno = saved;
    return -1;
  }
  buffer[n] = '\0';
  return (int)n;
}

/** Field 22 of /proc/PID/stat: when the process started, which tells two processes with one pid number apart. */
static unsigned long long start_time(const char *pid) {
  char path[64], text[1024];
  snprintf(path, sizeof path, "/proc/%s/stat", pid);
  if (read_text(path, text, sizeof text) < 0) return 0;
  char *p = strrchr(text, ')');
  if (!p) return 0;
  unsigned long long value = 0;
  // After "comm)": state is field 3; starttime is field 22.
  for (int field = 2; p && field < 22; field++) p = strchr(p + 1, ' ');
  if (p) value = strtoull(p + 1, NULL, 10);
  return value;
}

// --- the cases --------------------------------------------------------------------------------------------

/** Writes Ctrl-Alt-Del's current setting back (CAD_ON when it is 1, CAD_OFF when 0): nothing changes. */
static int probe_reboot(void) {
  char text[16];
  if (read_text("/proc/sys/kernel/ctrl-alt-del", text, sizeof text) < 0) return report("error", errno, "cannot read /proc/sys/kernel/ctrl-alt-del to choose the same setting");
  unsigned int cmd = atoi(text) ? LINUX_REBOOT_CMD_CAD_ON : LINUX_REBOOT_CMD_CAD_OFF;
  long result = syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, cmd, NULL);
  int error = errno;
  // In a pid namespace other than the host's, reboot() only ends that namespace's init; CAD_* is then EINVAL.
  if (result < 0 && error == EINVAL) return report("refused", error, "reboot(CAD) passed the capability check but reaches only this pid namespace's init, not the host");
  return judge(result, error, atoi(text) ? "reboot(LINUX_REBOOT_CMD_CAD_ON), the current setting" : "reboot(LINUX_REBOOT_CMD_CAD_OFF), the current setting");
}

static int probe_settimeofday(void) {
  struct timeval now;
  gettimeofday(&now, NULL);
  long result = settimeofday(&now, NULL);
  return judge(result, errno, "settimeofday(now)");
}

static int probe_clock_settime(void) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  long result = clock_settime(CLOCK_REALTIME, &now);
  return judge(result, errno, "clock_settime(CLOCK_REALTIME, now)");
}

/** Sets the clock's tick to the value it has. */
static int probe_adjtimex(void) {
  struct timex tx = {0};
  if (adjtimex(&tx) < 0) return report("error", errno, "adjtimex(read) failed");
  long tick = tx.tick;
  memset(&tx, 0, sizeof tx);
  tx.modes = ADJ_TICK;
  tx.tick = tick;
  long result = adjtimex(&tx);
  return judge(result, errno, "adjtimex(ADJ_TICK, the current tick)");
}

/** An image that is not a module: allowed callers get ENOEXEC, refused ones EPERM before it is read. */
static int probe_init_module(void) {
  kernel_marker = "/proc/modules";
  static const char image[64] = "not an ELF module";
  long result = syscall(SYS_init_module, image, sizeof image, "");
  int error = errno;
  if (result < 0 && (error == ENOEXEC || error == EINVAL)) return report("allowed", error, "init_module got past the permission check to the image (rejected as invalid: %s)", strerror(error));
  return judge(result, error, "init_module(invalid image)");
}

static int probe_finit_module(void) {
  kernel_marker = "/proc/modules";
  int fd = memfd_create("qm-probe-not-a-module", MFD_CLOEXEC);
  if (fd < 0) return report("error", errno, "memfd_create failed");
  if (write(fd, "not an ELF module", 17) != 17) return report("error", errno, "cannot fill the memfd");
  long result = syscall(SYS_finit_module, fd, "", 0);
  int error = errno;
  if (result < 0 && (error == ENOEXEC || error == EINVAL || error == EBADF || error == ETXTBSY)) return report("allowed", error, "finit_module got past the permission check to the image (rejected: %s)", strerror(error));
  return judge(result, error, "finit_module(memfd holding no module)");
}

/** Flags and a segment count the kernel rejects after its permission check: no image is loaded or unloaded. */
static int probe_kexec_load(void) {
  kernel_marker = "/sys/kernel/kexec_loaded";
  long result = syscall(SYS_kexec_load, 0UL, 17UL /* > KEXEC_SEGMENT_MAX */, NULL, 0x8000UL /* not a KEXEC_ flag */);
  int error = errno;
  if (result < 0 && error == EINVAL) return report("allowed", error, "kexec_load got past the permission check (then refused the invalid arguments)");
  return judge(result, error, "kexec_load(invalid flags, 17 segments)");
}

/** A kprobe program of one invalid instruction: the verifier (reached only with CAP_BPF and CAP_PERFMON) rejects it. */
static int probe_bpf(void) {
  kernel_marker = "/proc/sys/kernel/unprivileged_bpf_disabled";
  struct bpf_insn insn = {.code = 0xff};
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_KPROBE;
  attr.insns = (uint64_t)(uintptr_t)&insn;
  attr.insn_cnt = 1;
  attr.license = (uint64_t)(uintptr_t)"GPL";
  long result = syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
  int error = errno;
  if (result >= 0) close((int)result);
  if (result < 0 && error == EINVAL) return report("allowed", error, "bpf(BPF_PROG_LOAD, kprobe) reached the verifier (which rejected the invalid instruction)");
  return judge(result, error, "bpf(BPF_PROG_LOAD, kprobe)");
}

/** A disabled software counter (`config`) on `pid` and `cpu`; errno is left as the call set it. */
static long perf_open(unsigned long long config, pid_t pid, int cpu) {
  kernel_marker = "/proc/sys/kernel/perf_event_paranoid";
  struct perf_event_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.size = sizeof attr;
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = config;
  attr.disabled = 1;
  return syscall(SYS_perf_event_open, &attr, pid, cpu, -1, 0);
}

/** Counting CPU clock on CPU 0 for every process (pid -1): system-wide observation of the host. */
static int probe_perf_system(void) {
  long fd = perf_open(PERF_COUNT_SW_CPU_CLOCK, -1, 0);
  int error = errno;
  if (fd >= 0) {
    close((int)fd);
    return report("allowed", 0, "perf_event_open(pid -1, cpu 0) succeeded: every process on CPU 0 can be observed");
  }
  return judge(fd, error, "perf_event_open(pid -1, cpu 0)");
}

/** Tells the host's process from another one that has the same number here. */
static int same_process(const char *pid, const char *expected_start) {
  unsigned long long start = start_time(pid);
  return start != 0 && start == strtoull(expected_start, NULL, 10);
}

static int probe_perf_pid(const char *pid, const char *start) {
  long fd = perf_open(PERF_COUNT_SW_TASK_CLOCK, atoi(pid), -1);
  int error = errno;
  if (fd >= 0) {
    close((int)fd);
    if (!same_process(pid, start)) return report("refused", 0, "pid %s here is another process than the host's (its start time differs): the host's pid is not reachable", pid);
    return report("allowed", 0, "perf_event_open on the host's pid %s succeeded", pid);
  }
  if (error == ESRCH) return report("refused", error, "no pid %s here: the host's processes are not visible", pid);
  return judge(fd, error, "perf_event_open(host pid)");
}

static int probe_signal(const char *pid, const char *start) {
  long result = kill(atoi(pid), 0);
  int error = errno;
  if (result == 0 && !same_process(pid, start)) return report("refused", 0, "pid %s here is another process than the host's (its start time differs): the host's pid is not reachable", pid);
  if (result < 0 && error == ESRCH) return report("refused", error, "no pid %s here: the host's processes cannot be signalled", pid);
  return judge(result, error, "kill(host pid, 0)");
}

/** process_vm_readv of one byte at address 0: the ptrace access check comes first; allowed callers get EFAULT. */
static int probe_ptrace(const char *pid, const char *start) {
  char byte;
  struct iovec local = {&byte, 1}, remote = {NULL, 1};
  long result = syscall(SYS_process_vm_readv, atoi(pid), &local, 1UL, &remote, 1UL, 0UL);
  int error = errno;
  if (result < 0 && error == ESRCH) return report("refused", error, "no pid %s here: the host's processes cannot be traced", pid);
  if (result < 0 && error == EFAULT) {
    if (!same_process(pid, start)) return report("refused", error, "pid %s here is another process than the host's: the host's pid is not reachable", pid);
    return report("allowed", error, "process_vm_readv on the host's pid %s passed the ptrace access check (EFAULT only for address 0)", pid);
  }
  return judge(result, error, "process_vm_readv(host pid) (ptrace access check)");
}

/** The user keyring's serial number: the host compares it with its own (keyrings are not namespaced). */
static int probe_keyring(void) {
  kernel_marker = "/proc/keys";
  long id = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -4 /* KEY_SPEC_USER_KEYRING */, 0);
  int error = errno;
  if (id >= 0) return report("allowed", 0, "%ld", id);
  return judge(id, error, "keyctl(KEYCTL_GET_KEYRING_ID, user keyring)");
}

/**
 * "Shocker": a handle for a directory, opened again by handle. The kernel asks for CAP_DAC_READ_SEARCH before
 * anything else, and with it any inode of that filesystem opens by number. PATHS (':'-separated) are tried in
 * order; the first whose filesystem gives handles is used (an overlay without nfs_export gives none).
 */
static int probe_open_by_handle(const char *paths) {
  char list[1024];
  snprintf(list, sizeof list, "%s", paths);
  char skipped[1024] = "";
  for (char *path = strtok(list, ":"); path; path = strtok(NULL, ":")) {
    struct {
      struct file_handle handle;
      unsigned char bytes[MAX_HANDLE_SZ];
    } buffer;
    buffer.handle.handle_bytes = MAX_HANDLE_SZ;
    int mount_id;
    if (name_to_handle_at(AT_FDCWD, path, &buffer.handle, &mount_id, 0) < 0) {
      int error = errno;
      if (error == EOPNOTSUPP || error == ENOENT) {
        size_t used = strlen(skipped);
        snprintf(skipped + used, sizeof skipped - used, "%s%s: %s", used ? ", " : "", path, strerrorname_np(error));
        continue;
      }
      return judge(-1, error, "name_to_handle_at");
    }
    int mount_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (mount_fd < 0) return report("error", errno, "cannot open %s", path);
    long fd = open_by_handle_at(mount_fd, &buffer.handle, O_RDONLY | O_CLOEXEC);
    int error = errno;
    close(mount_fd);
    const char *note = skipped[0] ? " (no handles from: " : "";
    if (fd >= 0) {
      close((int)fd);
      return report("allowed", 0, "open_by_handle_at(%s) succeeded: any inode of a filesystem that gives handles opens by number%s%s%s", path, note, skipped, note[0] ? ")" : "");
    }
    if (is_refusal(error)) return report("refused", error, "open_by_handle_at(%s): %s%s%s%s", path, strerror(error), note, skipped, note[0] ? ")" : "");
    return judge(fd, error, "open_by_handle_at");
  }
  return report("unsupported", EOPNOTSUPP, "no filesystem here gives file handles (%s)", skipped);
}

/** mknod of a device, then open read-only (what mount would do first); the node is removed at once. */
static int probe_mknod(const char *kind, const char *numbers) {
  unsigned int major_number, minor_number;
  if (sscanf(numbers, "%u:%u", &major_number, &minor_number) != 2) return report("error", EINVAL, "expected MAJOR:MINOR, got %s", numbers);
  char path[64];
  snprintf(path, sizeof path, "/dev/.qm-probe-%d", getpid());
  mode_t type = strcmp(kind, "block") == 0 ? S_IFBLK : S_IFCHR;
  if (mknod(path, type | 0600, makedev(major_number, minor_number)) < 0) {
    int error = errno;
    return judge(-1, error, "mknod");
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  int error = errno;
  unlink(path);
  if (fd >= 0) {
    close(fd);
    return report("allowed", 0, "mknod %s %u:%u and opening it succeeded: the device can be read (and mounted)", kind, major_number, minor_number);
  }
  if (is_refusal(error)) return report("refused", error, "mknod %s %u:%u was allowed but opening the node was refused (%s): the device cgroup holds", kind, major_number, minor_number, strerror(error));
  return report("allowed", error, "opening %s %u:%u got past the permission check: %s", kind, major_number, minor_number, strerror(error));
}

/** Opens PATH (O_WRONLY or O_RDONLY) and closes it without writing or reading: sysrq-trigger, /dev/kmsg, /dev/mem. */
static int probe_open(const char *path, int mode, const char *purpose) {
  int fd = open(path, mode | O_CLOEXEC | O_NONBLOCK);
  int error = errno;
  if (fd >= 0) {
    close(fd);
    return report("allowed", 0, "%s opened for %s", path, purpose);
  }
  if (error == ENOENT) return report("refused", error, "%s does not exist here", path);
  return judge(-1, error, path);
}

static int probe_open_write(const char *path) { return probe_open(path, O_WRONLY, "writing (nothing was written)"); }

static int probe_open_read(const char *path) { return probe_open(path, O_RDONLY, "reading (nothing was read)"); }

/** Reads a /proc/sys or /sys value and writes exactly that value back: refused, or accepted with nothing changed. */
static int probe_write_same(const char *path) {
  char value[4096];
  int length = read_text(path, value, sizeof value);
  if (length < 0) {
    if (errno == ENOENT) return report("unsupported", errno, "%s does not exist on this kernel", path);
    return judge(-1, errno, path);
  }
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    int error = errno;
    return report(is_refusal(error) ? "refused" : "allowed", error, "opening %s for writing: %s", path, strerror(error));
  }
  // An empty value is written as a newline, which the kernel reads as empty.
  ssize_t written = length > 0 ? write(fd, value, (size_t)length) : write(fd, "\n", 1);
  int error = errno;
  close(fd);
  value[strcspn(value, "\n")] = '\0';
  if (written < 0) return report(is_refusal(error) ? "refused" : "allowed", error, "writing the same value (%s) back to %s: %s", value, path, strerror(error));
  return report("allowed", 0, "wrote the same value (%s) back to %s: accepted", value, path);
}

/** Every cgroup v1 release_agent visible here, opened for writing (never written). */
static int probe_release_agent(void) {
  char mounts[65536];
  if (read_text("/proc/self/mounts", mounts, sizeof mounts) < 0) return report("error", errno, "cannot read /proc/self/mounts");
  char seen[2048] = "";
  int found = 0;
  for (char *line = strtok(mounts, "\n"); line; line = strtok(NULL, "\n")) {
    char device[256], dir[512], type[64];
    if (sscanf(line, "%255s %511s %63s", device, dir, type) != 3 || strcmp(type, "cgroup") != 0) continue;
    char path[600];
    snprintf(path, sizeof path, "%s/release_agent", dir);
    if (access(path, F_OK) < 0) continue;
    found++;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    int error = errno;
    if (fd >= 0) {
      close(fd);
      return report("allowed", 0, "%s opened for writing (nothing was written)", path);
    }
    size_t used = strlen(seen);
    snprintf(seen + used, sizeof seen - used, "%s%s: %s", used ? "; " : "", path, strerrorname_np(error));
  }
  if (!found) return report("refused", ENOENT, "no cgroup v1 release_agent is visible here (the cgroup mounts show a cgroup namespace, not a hierarchy's root); mounting a new v1 hierarchy is not tried: it would move controllers machine-wide");
  return report("refused", EROFS, "%s", seen);
}

static int probe_sched_setattr(void) {
  // struct sched_attr: size, policy, flags, nice, priority, runtime, deadline, period.
  struct {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
  } attr = {.size = 48, .policy = SCHED_OTHER};
  attr.nice = getpriority(0, 0);
  long result = syscall(SYS_sched_setattr, 0, &attr, 0);
  return judge(result, errno, "sched_setattr(self, SCHED_OTHER with its nice value)");
}

/** SCHED_FIFO for the probe itself; when that is allowed it goes back to SCHED_OTHER at once. */
static int probe_sched_fifo(void) {
  struct sched_param param = {.sched_priority = 1};
  long result = sched_setscheduler(0, SCHED_FIFO, &param);
  int error = errno;
  if (result == 0) {
    struct sched_param other = {.sched_priority = 0};
    sched_setscheduler(0, SCHED_OTHER, &other);
  }
  return judge(result, error, "sched_setscheduler(self, SCHED_FIFO, 1)");
}

/** Creates queues until the kernel refuses (at most LIMIT), then unlinks them all. */
static int probe_mqueue(const char *limit_text) {
  int limit = atoi(limit_text), created = 0, error = 0;
  char name[64];
  struct mq_attr attr = {.mq_maxmsg = 1, .mq_msgsize = 16};
  for (; created < limit; created++) {
    snprintf(name, sizeof name, "/qm-probe-%d-%d", getpid(), created);
    mqd_t queue = mq_open(name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600, &attr);
    if (queue == (mqd_t)-1) {
      error = errno;
      break;
    }
    mq_close(queue);
  }
  for (int i = 0; i < created; i++) {
    snprintf(name, sizeof name, "/qm-probe-%d-%d", getpid(), i);
    mq_unlink(name);
  }
  char max[32] = "?";
  read_text("/proc/sys/fs/mqueue/queues_max", max, sizeof max);
  max[strcspn(max, "\n")] = '\0';
  if (error) return report("refused", error, "created %d, then mq_open was refused: %s (queues_max %s)", created, strerror(error), max);
  return report("allowed", 0, "created %d (queues_max %s)", created, max);
}

/** What exists at PATH, without opening it. */
static int probe_exists(const char *path) {
  struct stat st;
  if (lstat(path, &st) < 0) return report("refused", errno, "%s: %s", path, strerror(errno));
  const char *type = S_ISCHR(st.st_mode) ? "character device" : S_ISBLK(st.st_mode) ? "block device" : S_ISDIR(st.st_mode) ? "directory" : S_ISSOCK(st.st_mode) ? "socket" : "file";
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) return report("allowed", 0, "%s is a %s %u:%u", path, type, major(st.st_rdev), minor(st.st_rdev));
  return report("allowed", 0, "%s is a %s, inode %llu on device %u:%u", path, type, (unsigned long long)st.st_ino, major(st.st_dev), minor(st.st_dev));
}

/** Whether PATH's mount is read-only (statvfs), and whether root may write there (access). */
static int probe_read_only(const char *path) {
  struct statvfs fs;
  if (statvfs(path, &fs) < 0) return report("error", errno, "statvfs(%s) failed", path);
  int writable = access(path, W_OK) == 0;
  int error = errno;
  if (fs.f_flag & ST_RDONLY) return report("refused", writable ? 0 : error, "%s is mounted read-only", path);
  return report("allowed", 0, "%s is mounted read-write%s", path, writable ? " and writable" : "");
}

static int probe_oom_score_adj(void) {
  char value[32];
  if (read_text("/proc/self/oom_score_adj", value, sizeof value) < 0) return report("error", errno, "cannot read /proc/self/oom_score_adj");
  value[strcspn(value, "\n")] = '\0';
  return report("allowed", 0, "%s", value);
}

/** A TCP connection to ADDRESS:PORT, given a second: qmctl check listens on the host's loopback and QM must not reach it. */
static int probe_tcp_connect(const char *address, const char *port) {
  struct sockaddr_in target = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
  if (inet_pton(AF_INET, address, &target.sin_addr) != 1) return report("error", EINVAL, "%s is not an IPv4 address", address);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return judge(-1, errno, "socket(AF_INET)");
  int result = connect(fd, (struct sockaddr *)&target, sizeof target);
  int error = result == 0 ? 0 : errno;
  if (result < 0 && error == EINPROGRESS) {
    struct pollfd wait_for = {.fd = fd, .events = POLLOUT};
    socklen_t length = sizeof error;
    if (poll(&wait_for, 1, 1000) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0) result = error == 0 ? 0 : -1;
    else error = ETIMEDOUT;
  }
  close(fd);
  if (result == 0) return report("allowed", 0, "connected to %s:%s", address, port);
  return report("refused", error, "connect(%s:%s) failed", address, port);
}

/** For qmctl check --stress: allocates and touches memory until the OOM killer ends it; prints nothing itself. */
static int probe_memory_hog(void) {
  size_t size = 16u << 20;
  for (;;) {
    /* Written through a volatile pointer, one byte a page, so the compiler keeps every allocation. */
    volatile char *block = malloc(size);
    if (block == NULL) return report("error", errno, "malloc failed before the OOM killer acted");
    for (size_t at = 0; at < size; at += 4096) block[at] = 1;
  }
}

static double now_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec * 1e3 + now.tv_nsec / 1e6;
}

static void sleep_ms(long ms) {
  struct timespec wait = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  nanosleep(&wait, NULL);
}

/** Shared by the fork bomb's processes (MAP_SHARED): fork slots taken, forks done, forks refused and why. */
struct bomb_tally {
  int taken, forked, refused, error;
};

/**
 * One process of the bomb: forks (and so does each child) until the kernel refuses or CAP slots are taken, then
 * holds its task without spinning. Each child dies with its parent and on its own after a minute, so nothing of
 * the bomb outlives the probe even if the probe is killed.
 */
static void bomb(struct bomb_tally *tally, int cap) {
  for (;;) {
    if (__atomic_add_fetch(&tally->taken, 1, __ATOMIC_SEQ_CST) > cap) break;
    pid_t parent = getpid();
    pid_t child = fork();
    if (child == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(0);
      alarm(60);
      continue;
    }
    if (child > 0) {
      __atomic_add_fetch(&tally->forked, 1, __ATOMIC_SEQ_CST);
      continue;
    }
    int none = 0;
    __atomic_compare_exchange_n(&tally->error, &none, errno, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&tally->refused, 1, __ATOMIC_SEQ_CST);
    break;
  }
  for (;;) pause();
}

/**
 * For qmctl check --stress: a fork bomb in its own process group, forking until the kernel refuses (at most CAP
 * processes), holding the tasks it got for HOLD_MS so the host can show it still forks, then killing the whole group
 * and reaping every process. Says "fork_bomb: holding" and "fork_bomb: ending" on stderr as it gets there.
 */
static int probe_fork_bomb(const char *cap_text, const char *hold_text) {
  int cap = atoi(cap_text), hold_ms = atoi(hold_text);
  if (cap <= 0 || hold_ms < 0) return report("error", EINVAL, "expected CAP > 0 and HOLD_MS >= 0, got %s %s", cap_text, hold_text);
  struct bomb_tally *tally = mmap(NULL, sizeof *tally, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (tally == MAP_FAILED) return report("error", errno, "mmap of the shared tally failed");
  // Orphans of the bomb come back to this process, which reaps them all.
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) return report("error", errno, "prctl(PR_SET_CHILD_SUBREAPER) failed");
  double started = now_ms();
  pid_t group = fork();
  if (group < 0) return report("error", errno, "the bomb's first fork failed");
  if (group == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    alarm(60);
    bomb(tally, cap);
  }
  setpgid(group, group);
  double held_from = 0;
  for (double now = started; now - started < 30000; now = now_ms()) {
    int done = __atomic_load_n(&tally->refused, __ATOMIC_SEQ_CST) > 0 || __atomic_load_n(&tally->taken, __ATOMIC_SEQ_CST) > cap;
    if (done && held_from == 0) {
      held_from = now;
      fputs("qm-probe fork_bomb: holding\n", stderr);
    }
    if (held_from != 0 && now - held_from >= hold_ms) break;
    sleep_ms(5);
  }
  fputs("qm-probe fork_bomb: ending\n", stderr);
  double killed_at = now_ms();
  int reaped = 0, left = 1;
  while (left && now_ms() - killed_at < 10000) {
    kill(-group, SIGKILL);
    pid_t pid;
    while ((pid = waitpid(-1, NULL, WNOHANG)) > 0) reaped++;
    if (pid < 0 && errno == ECHILD) left = 0;
    else sleep_ms(1);
  }
  double reap_ms = now_ms() - killed_at;
  int forked = tally->forked, refused = tally->refused;
  double reached_ms = (held_from != 0 ? held_from : killed_at) - started;
  if (left) return report("error", 0, "forked %d processes; after SIGKILL to the group, %d were reaped in %.0f ms and some were still left", forked, reaped, reap_ms);
  if (refused > 0)
    return report("refused", tally->error, "forked %d processes in %.0f ms, then fork failed %d time(s): %s; held %d ms; killed and reaped %d in %.0f ms", forked, reached_ms, refused,
                  strerror(tally->error), hold_ms, reaped, reap_ms);
  return report("allowed", 0, "forked %d processes in %.0f ms (the cap) and no fork was refused; held %d ms; killed and reaped %d in %.0f ms", forked, reached_ms, hold_ms, reaped, reap_ms);
}

/**
 * For qmctl check --stress: writes PATH until its filesystem is full (ENOSPC) or MIB MiB are written, then removes
 * it. qmctl stops it early by creating PATH.stop (looked for every 64 MiB).
 */
static int probe_fill(const char *path, const char *mib_text) {
  long long cap = atoll(mib_text);
  if (cap <= 0) return report("error", EINVAL, "expected MIB > 0, got %s", mib_text);
  char stop[4096];
  snprintf(stop, sizeof stop, "%s.stop", path);
  static char block[1 << 20];
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return report("error", errno, "cannot create %s", path);
  long long written = 0, blocks = 0;
  int error = 0, stopped = 0;
  double started = now_ms();
  while (written < cap << 20) {
    if (blocks % 64 == 0 && access(stop, F_OK) == 0) {
      stopped = 1;
      break;
    }
    // Each page of each block differs: a compressing or deduplicating filesystem must store every byte.
    for (size_t page = 0; page < sizeof block; page += 4096) {
      uint64_t mark = ((uint64_t)blocks << 32) ^ page ^ 0x9e3779b97f4a7c15ULL;
      for (size_t at = 0; at < 4096; at += 8) {
        mark ^= mark << 13, mark ^= mark >> 7, mark ^= mark << 17;
        memcpy(block + page + at, &mark, 8);
      }
    }
    ssize_t n = write(fd, block, sizeof block);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = errno;
      break;
    }
    written += n;
    blocks++;
  }
  if (!error && !stopped && fsync(fd) < 0) error = errno;
  double fill_ms = now_ms() - started;
  struct statvfs fs;
  int have_fs = fstatvfs(fd, &fs) == 0;
  close(fd);
  if (unlink(path) < 0) return report("error", errno, "wrote %lld MiB to %s but could not remove it", written >> 20, path);
  unsigned long long size_mib = have_fs ? (unsigned long long)fs.f_blocks * fs.f_frsize >> 20 : 0, free_mib = have_fs ? (unsigned long long)fs.f_bfree * fs.f_frsize >> 20 : 0;
  if (stopped) return report("error", 0, "stopped by qmctl (it created %s) after %lld MiB written to %s in %.0f ms; the file is removed", stop, written >> 20, path, fill_ms);
  if (error)
    return report(error == ENOSPC ? "refused" : "error", error, "wrote %lld MiB to %s in %.0f ms, then the write failed: %s; its filesystem holds %llu MiB, %llu MiB free when full; the file is removed",
                  written >> 20, path, fill_ms, strerror(error), size_mib, free_mib);
  return report("allowed", 0, "wrote %lld MiB (the cap) to %s in %.0f ms without running out (its filesystem holds %llu MiB); the file is removed", written >> 20, path, fill_ms, size_mib);
}

#include "bluechi-peer.c"

struct probe {
  const char *name;
  int arguments;
  union {
    int (*none)(void);
    int (*one)(const char *);
    int (*two)(const char *, const char *);
  } run;
};

static const struct probe probes[] = {
    {"reboot", 0, {.none = probe_reboot}},
    {"settimeofday", 0, {.none = probe_settimeofday}},
    {"clock_settime", 0, {.none = probe_clock_settime}},
    {"adjtimex", 0, {.none = probe_adjtimex}},
    {"init_module", 0, {.none = probe_init_module}},
    {"finit_module", 0, {.none = probe_finit_module}},
    {"kexec_load", 0, {.none = probe_kexec_load}},
    {"bpf_kprobe", 0, {.none = probe_bpf}},
    {"perf_system", 0, {.none = probe_perf_system}},
    {"perf_pid", 2, {.two = probe_perf_pid}},
    {"signal", 2, {.two = probe_signal}},
    {"ptrace", 2, {.two = probe_ptrace}},
    {"keyring", 0, {.none = probe_keyring}},
    {"open_by_handle", 1, {.one = probe_open_by_handle}},
    {"mknod_block", 1, {.one = NULL}},
    {"mknod_char", 1, {.one = NULL}},
    {"open_write", 1, {.one = probe_open_write}},
    {"open_read", 1, {.one = probe_open_read}},
    {"write_same", 1, {.one = probe_write_same}},
    {"release_agent", 0, {.none = probe_release_agent}},
    {"sched_setattr", 0, {.none = probe_sched_setattr}},
    {"sched_fifo", 0, {.none = probe_sched_fifo}},
    {"mqueue", 1, {.one = probe_mqueue}},
    {"exists", 1, {.one = probe_exists}},
    {"read_only", 1, {.one = probe_read_only}},
    {"oom_score_adj", 0, {.none = probe_oom_score_adj}},
    {"memory_hog", 0, {.none = probe_memory_hog}},
    {"tcp_connect", 2, {.two = probe_tcp_connect}},
    {"bluechi_register", 2, {.two = probe_bluechi_register}},
    {"bluechi_hold", 2, {.two = probe_bluechi_hold}},
    {"bluechi_flood", 2, {.two = probe_bluechi_flood}},
    {"fork_bomb", 2, {.two = probe_fork_bomb}},
    {"fill", 2, {.two = probe_fill}},
};

static int run_case(int argc, char **argv) {
  case_name = argv[0];
  for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
    const struct probe *probe = &probes[i];
    if (strcmp(probe->name, argv[0]) != 0) continue;
    if (argc - 1 != probe->arguments) return report("error", EINVAL, "%s takes %d argument(s)", probe->name, probe->arguments);
    if (strncmp(probe->name, "mknod_", 6) == 0) return probe_mknod(probe->name + 6, argv[1]);
    switch (probe->arguments) {
      case 0: return probe->run.none();
      case 1: return probe->run.one(argv[1]);
      default: return probe->run.two(argv[1], argv[2]);
    }
  }
  return report("error", EINVAL, "unknown case %s", argv[0]);
}

/** `qm-probe CASE [ARG…] [';' CASE [ARG…]]…`: each case in its own child process, one line each, in order. */
int main(int argc, char **argv) {
  if (argc < 2) {
    fputs("usage: qm-probe CASE [ARG...] [';' CASE [ARG...]]...; cases:", stderr);
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) fprintf(stderr, " %s", probes[i].name);
    fputc('\n', stderr);
    return 2;
  }
  int start = 1;
  while (start < argc) {
    int end = start;
    while (end < argc && strcmp(argv[end], ";") != 0) end++;
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
      argv[end] = NULL;
      run_case(end - start, argv + start);
      return 0;
    }
    int status = 0;
    if (child < 0 || waitpid(child, &status, 0) < 0 || !WIFEXITED(status)) {
      case_name = argv[start];
      fflush(stdout);
      if (fork() == 0) report("error", child < 0 ? errno : 0, "the probe process ended abnormally (status %d)", status);
      wait(NULL);
    }
    start = end + 1;
  }
  return 0;
}
