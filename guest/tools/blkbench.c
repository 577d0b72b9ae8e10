/* blkbench.c: timed O_DIRECT sequential and random reads and writes on a scratch block device. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_DIRECT */
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tools.h"

/*
 * Each row runs --jobs threads for --seconds of wall time.  A job has its own
 * O_DIRECT descriptor and its own aligned buffer, and keeps its I/O at queue
 * depth one: the figures measure the round trip through the virtual disk, not
 * how deep a queue the device can keep.  Sequential jobs stream over disjoint
 * slices of the area, wrapping at the end; random jobs pick 4 KiB-aligned
 * offsets over the whole area.
 *
 * Each op is timed from the end of the one before (one clock read per op: in a
 * guest without a fast clocksource a read can cost a syscall or an exit).  A
 * job keeps a uniform sample of its latencies (reservoir sampling), so memory
 * stays bounded however long a row runs.
 */

#define EXIT_FAILED   1
#define ALIGN	      4096
#define SEQ_BS	      (1024 * 1024)
#define RAND_BS	      4096
#define MIN_AREA      (16ULL * 1024 * 1024)
#define MAX_JOBS      64
#define MAX_ROWS      16
#define MAX_SECONDS   3600.0
#define LAT_SAMPLES   32768 /* per job: 256 KiB */
#define DEFAULT_ROWS  "seq-read,seq-write,rand-read,rand-write"
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct row_kind {
	const char *name;
	size_t bs;
	bool write;
	bool random;
};

static const struct row_kind ROW_KINDS[] = {
	{ "seq-read", SEQ_BS, false, false },
	{ "seq-write", SEQ_BS, true, false },
	{ "rand-read", RAND_BS, false, true },
	{ "rand-write", RAND_BS, true, true },
};

struct opts {
	double seconds;
	unsigned int jobs;
	uint64_t size; /* 0: the whole device */
	bool fill;
	const struct row_kind *rows[MAX_ROWS];
	unsigned int nrows;
	const char *path;
};

/* The start line of a row: jobs wait until the main thread has started them all, or gives up. */
struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int state; /* GATE_*; under lock */
};

enum {
	GATE_WAIT,
	GATE_GO,
	GATE_ABORT
};

struct job {
	/* Set once, before any row. */
	unsigned int index;
	int fd;
	unsigned char *buf; /* SEQ_BS bytes, ALIGN-aligned */
	uint64_t *lat;	    /* LAT_SAMPLES latencies in ns */
	uint64_t rng;
	/* Set by the main thread before each row's threads start. */
	const struct row_kind *row;
	uint64_t base, len; /* the part of the area this job covers */
	uint64_t ns_limit;
	struct gate *gate;
	/* Written by the job's thread, read by the main thread after the join. */
	uint64_t t_start, t_end, ops, pos;
	size_t nlat;
	bool failed;
	int err;     /* errno of the failed op, when got is -1 */
	ssize_t got; /* bytes the failed op moved, or -1 */
	uint64_t err_off;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: blkbench [--seconds N] [--jobs N] [--size BYTES] [--rows LIST] [--no-fill] DEVICE\n"
		"  --seconds N   wall time of each row (default 5)\n"
		"  --jobs N      threads, each with its own O_DIRECT descriptor (default 1, at most %d)\n"
		"  --size BYTES  how much of DEVICE to use, from its start (K, M, G suffixes; default all;\n"
		"                at least 16M, rounded down to whole MiB)\n"
		"  --rows LIST   seq-read, seq-write, rand-read, rand-write, split at ',' or '+' (default all, in this\n"
		"                order; '+' where commas are taken, as on kvmini.blkbench=)\n"
		"  --no-fill     skip the untimed sequential write of the area before the rows\n"
		"DEVICE is overwritten: a scratch block device, or a regular file on a file system with O_DIRECT.\n",
		MAX_JOBS);
}

/* splitmix64: a well-mixed seed from a small integer (x), so that jobs 0, 1, 2 get unrelated streams. */
static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* xorshift64s: the next number from the xorshift64* generator in (*s), which must not be 0. */
static uint64_t xorshift64s(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* fill_pattern: (len) bytes at (buf), none of them zero, from the generator (*s). */
static void fill_pattern(unsigned char *buf, size_t len, uint64_t *s)
{
	for (size_t i = 0; i + 8 <= len; i += 8) {
		uint64_t v = xorshift64s(s) | 0x0101010101010101ULL;

		memcpy(buf + i, &v, 8);
	}
}

/* parse_rows: the list (list), split at ',' or '+', into (o)->rows. Returns 0, or -EINVAL after saying
 * what is wrong. */
static int parse_rows(const char *list, struct opts *o)
{
	const char *p = list;

	o->nrows = 0;
	while (*p) {
		size_t n = strcspn(p, ",+");
		size_t k;

		for (k = 0; k < ARRAY_SIZE(ROW_KINDS); k++) {
			if (strlen(ROW_KINDS[k].name) == n && strncmp(ROW_KINDS[k].name, p, n) == 0)
				break;
		}
		if (k == ARRAY_SIZE(ROW_KINDS) || o->nrows == MAX_ROWS) {
			fprintf(stderr,
				"blkbench: --rows: bad row '%.*s' (seq-read, seq-write, rand-read, rand-write; at most %d)\n",
				(int)n, p, MAX_ROWS);
			return -EINVAL;
		}
		o->rows[o->nrows++] = &ROW_KINDS[k];
		p += n;
		if (*p != '\0' && *++p == '\0')
			break;
	}
	if (o->nrows == 0) {
		fprintf(stderr, "blkbench: --rows: empty list\n");
		return -EINVAL;
	}
	return 0;
}

/* parse_opt: one option (c) with its argument (arg) into (o). Returns 0, or -EINVAL after saying why. */
static int parse_opt(int c, const char *arg, struct opts *o)
{
	uint64_t v;
	char *end;

	switch (c) {
	case 's':
		errno = 0;
		o->seconds = strtod(arg, &end);
		if (errno || end == arg || *end != '\0' || !(o->seconds > 0 && o->seconds <= MAX_SECONDS)) {
			fprintf(stderr,
				"blkbench: --seconds: want a number above 0, at most %.0f, not '%s'\n",
				MAX_SECONDS, arg);
			return -EINVAL;
		}
		return 0;
	case 'j':
		if (tools_parse_u64(arg, 10, false, &v) || v < 1 || v > MAX_JOBS) {
			fprintf(stderr, "blkbench: --jobs: want 1 to %d, not '%s'\n", MAX_JOBS, arg);
			return -EINVAL;
		}
		o->jobs = (unsigned int)v;
		return 0;
	case 'z':
		if (tools_parse_u64(arg, 10, true, &o->size) || o->size < MIN_AREA) {
			fprintf(stderr, "blkbench: --size: want at least 16M (bytes, or K, M, G), not '%s'\n",
				arg);
			return -EINVAL;
		}
		return 0;
	case 'r':
		return parse_rows(arg, o);
	case 'n':
		o->fill = false;
		return 0;
	}
	return -EINVAL;
}

/* parse_args: the command line into (o). Returns 1 for --help, 0, or -EINVAL after saying why. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "size", required_argument, NULL, 'z' },
		{ "rows", required_argument, NULL, 'r' },
		{ "no-fill", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct opts){ .seconds = 5.0, .jobs = 1, .fill = true };
	opterr = 0; /* one line of our own instead */
	if (parse_rows(DEFAULT_ROWS, o))
		return -EINVAL;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 1;
		}
		if (c == '?' || c == ':') {
			fprintf(stderr, "blkbench: %s '%s' (blkbench --help)\n",
				c == ':' ? "missing argument after" : "unknown option", argv[optind - 1]);
			return -EINVAL;
		}
		if (parse_opt(c, optarg, o))
			return -EINVAL;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "blkbench: want one DEVICE after the options (blkbench --help)\n");
		return -EINVAL;
	}
	o->path = argv[optind];
	return 0;
}

/* area_size: how many bytes of (o)->path, open on (fd), to use: --size or the whole device, in whole
 * MiB. Returns 0 with (*area) set, or -EINVAL after saying why. */
static int area_size(int fd, const struct opts *o, uint64_t *area)
{
	struct stat st;
	uint64_t dev;

	if (fstat(fd, &st)) {
		fprintf(stderr, "blkbench: fstat %s: %s\n", o->path, strerror(errno));
		return -EINVAL;
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &dev)) {
			fprintf(stderr, "blkbench: BLKGETSIZE64 on %s: %s\n", o->path, strerror(errno));
			return -EINVAL;
		}
	} else if (S_ISREG(st.st_mode)) {
		dev = (uint64_t)st.st_size;
	} else {
		fprintf(stderr, "blkbench: %s is neither a block device nor a regular file\n", o->path);
		return -EINVAL;
	}
	if (o->size > dev) {
		fprintf(stderr, "blkbench: --size %llu does not fit: %s has %llu bytes\n",
			(unsigned long long)o->size, o->path, (unsigned long long)dev);
		return -EINVAL;
	}
	*area = (o->size ? o->size : dev) / SEQ_BS * SEQ_BS;
	if (*area < MIN_AREA) {
		fprintf(stderr, "blkbench: %s has %llu bytes: want at least 16 MiB\n", o->path,
			(unsigned long long)dev);
		return -EINVAL;
	}
	if (*area / o->jobs < SEQ_BS) {
		fprintf(stderr, "blkbench: %u jobs need at least %u MiB for their sequential slices\n",
			o->jobs, o->jobs);
		return -EINVAL;
	}
	return 0;
}

/* job_setup: (j) as job (index) with its own O_DIRECT descriptor on (path) and its buffers. Returns 0, or
 * -errno after saying what failed. */
static int job_setup(struct job *j, unsigned int index, const char *path)
{
	int ret;

	*j = (struct job){ .index = index, .fd = -1, .rng = splitmix64(index + 1) | 1 };
	j->fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (j->fd < 0) {
		ret = -errno;
		fprintf(stderr, "blkbench: open %s (O_RDWR | O_DIRECT): %s%s\n", path, strerror(-ret),
			ret == -EINVAL ? " (does it support O_DIRECT? tmpfs does not)" : "");
		return ret;
	}
	ret = posix_memalign((void **)&j->buf, ALIGN, SEQ_BS);
	if (ret == 0) {
		j->lat = malloc(LAT_SAMPLES * sizeof(*j->lat));
		ret = j->lat ? 0 : ENOMEM;
	}
	if (ret) {
		fprintf(stderr, "blkbench: job %u buffers: %s\n", index, strerror(ret));
		return -ret;
	}
	fill_pattern(j->buf, SEQ_BS, &j->rng);
	return 0;
}

/* io_once: one op of (j)'s row at (off) from or into its buffer. Returns 0, or -1 with (j)->failed set
 * and err, got and err_off saying what failed. */
static int io_once(struct job *j, uint64_t off)
{
	size_t bs = j->row->bs;
	ssize_t n;

	if (j->row->write)
		n = pwrite(j->fd, j->buf, bs, (off_t)off);
	else
		n = pread(j->fd, j->buf, bs, (off_t)off);
	if (n == (ssize_t)bs)
		return 0;
	j->failed = true;
	j->err = n < 0 ? errno : 0;
	j->got = n;
	j->err_off = off;
	return -1;
}

/* next_offset: where (j)'s next op goes: a random aligned block of its range, or the next one in it. */
static uint64_t next_offset(struct job *j)
{
	uint64_t off;

	if (j->row->random)
		return j->base + xorshift64s(&j->rng) % (j->len / RAND_BS) * RAND_BS;
	if (j->pos + j->row->bs > j->len)
		j->pos = 0;
	off = j->base + j->pos;
	j->pos += j->row->bs;
	return off;
}

/* sample: keep latency (ns) of op number (j)->ops in (j)'s reservoir: every op is kept with equal odds. */
static void sample(struct job *j, uint64_t ns)
{
	if (j->nlat < LAT_SAMPLES) {
		j->lat[j->nlat++] = ns;
	} else {
		uint64_t r = xorshift64s(&j->rng) % (j->ops + 1);

		if (r < LAT_SAMPLES)
			j->lat[r] = ns;
	}
}

static void *job_run(void *arg)
{
	struct job *j = arg;
	uint64_t t, next, deadline;
	int state;

	pthread_mutex_lock(&j->gate->lock);
	while ((state = j->gate->state) == GATE_WAIT)
		pthread_cond_wait(&j->gate->cond, &j->gate->lock);
	pthread_mutex_unlock(&j->gate->lock);
	if (state != GATE_GO)
		return NULL;
	t = tools_now_ns();
	j->t_start = t;
	deadline = t + j->ns_limit;
	do {
		if (io_once(j, next_offset(j)))
			break;
		next = tools_now_ns();
		sample(j, next - t);
		j->ops++;
		t = next;
	} while (t < deadline);
	j->t_end = t;
	return NULL;
}

/* job_error: say what failed in (j), which ran row (what). */
static void job_error(const struct job *j, const char *what)
{
	const char *op = j->row->write ? "write" : "read";

	if (j->got < 0)
		fprintf(stderr, "blkbench: %s job %u: %s of %zu bytes at offset %llu: %s\n", what, j->index,
			op, j->row->bs, (unsigned long long)j->err_off, strerror(j->err));
	else
		fprintf(stderr, "blkbench: %s job %u: short %s at offset %llu: %zd of %zu bytes\n", what,
			j->index, op, (unsigned long long)j->err_off, j->got, j->row->bs);
}

/* fill_area: write (area) bytes from the start of the device once, through job (j), so that no read
 * row meets a hole. Returns 0 or -1 after saying what failed. */
static int fill_area(struct job *j, uint64_t area)
{
	static const struct row_kind fill = { "fill", SEQ_BS, true, false };

	j->row = &fill;
	for (uint64_t off = 0; off < area; off += SEQ_BS) {
		if (io_once(j, off)) {
			job_error(j, "fill");
			return -1;
		}
	}
	if (fdatasync(j->fd)) {
		fprintf(stderr, "blkbench: fill: fdatasync: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* percentile_us: the (pct)th percentile (nearest rank) of the (n) sorted ns latencies (v), in us. */
static double percentile_us(const uint64_t *v, size_t n, unsigned int pct)
{
	size_t rank = (n * pct + 99) / 100;

	if (n == 0)
		return 0.0;
	return (double)v[rank ? rank - 1 : 0] / 1000.0;
}

/* report: print the line for the row (row) that (jobs) jobs (j) just ran. Returns 0 or -ENOMEM. */
static int report(const struct job *j, unsigned int jobs, const struct row_kind *row)
{
	uint64_t t0 = UINT64_MAX, t1 = 0, ops = 0;
	size_t n = 0;
	uint64_t *all = malloc((size_t)jobs * LAT_SAMPLES * sizeof(*all));
	double secs, mib;

	if (!all) {
		fprintf(stderr, "blkbench: %s: latency samples: %s\n", row->name, strerror(ENOMEM));
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < jobs; i++) {
		t0 = j[i].t_start < t0 ? j[i].t_start : t0;
		t1 = j[i].t_end > t1 ? j[i].t_end : t1;
		ops += j[i].ops;
		memcpy(all + n, j[i].lat, j[i].nlat * sizeof(*all));
		n += j[i].nlat;
	}
	qsort(all, n, sizeof(*all), cmp_u64);
	secs = (double)(t1 - t0) / (double)NS_PER_SEC;
	mib = (double)ops * (double)row->bs / (1024.0 * 1024.0);
	printf("BLKBENCH row=%s bs=%zu jobs=%u seconds=%.3f ops=%llu MiBps=%.1f iops=%.1f lat_us_p50=%.1f "
	       "lat_us_p99=%.1f\n",
	       row->name, row->bs, jobs, secs, (unsigned long long)ops, mib / secs, (double)ops / secs,
	       percentile_us(all, n, 50), percentile_us(all, n, 99));
	fflush(stdout);
	free(all);
	return 0;
}

/* open_gate: let the jobs waiting at (g) run, or stop at once when (state) is GATE_ABORT. */
static void open_gate(struct gate *g, int state)
{
	pthread_mutex_lock(&g->lock);
	g->state = state;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

/* run_row: run (row) on the (area) bytes with the (o)->jobs jobs (j) and report it. Returns 0, or -1
 * after saying what failed. */
static int run_row(struct job *j, const struct opts *o, uint64_t area, const struct row_kind *row)
{
	struct gate gate = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, GATE_WAIT };
	uint64_t slice = area / o->jobs / row->bs * row->bs;
	pthread_t tid[MAX_JOBS];
	unsigned int started;
	int ret = 0;

	for (unsigned int i = 0; i < o->jobs; i++) {
		j[i].row = row;
		j[i].base = row->random ? 0 : i * slice;
		j[i].len = row->random ? area : slice;
		j[i].ns_limit = (uint64_t)(o->seconds * (double)NS_PER_SEC);
		j[i].gate = &gate;
		j[i].ops = j[i].pos = 0;
		j[i].nlat = 0;
		j[i].failed = false;
		if (row->write)
			fill_pattern(j[i].buf, row->bs, &j[i].rng);
	}
	for (started = 0; started < o->jobs && ret == 0; started++)
		ret = pthread_create(&tid[started], NULL, job_run, &j[started]);
	if (ret) {
		started--;
		fprintf(stderr, "blkbench: %s: pthread_create for job %u: %s\n", row->name, started,
			strerror(ret));
	}
	open_gate(&gate, ret ? GATE_ABORT : GATE_GO);
	for (unsigned int i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	if (ret)
		return -1;
	for (unsigned int i = 0; i < o->jobs; i++) {
		if (j[i].failed) {
			job_error(&j[i], row->name);
			ret = -1;
		}
	}
	return ret ? -1 : report(j, o->jobs, row) ? -1 : 0;
}

/* job_teardown: close and free what job_setup gave (j), even when it failed half-way. */
static void job_teardown(struct job *j)
{
	if (j->fd >= 0)
		close(j->fd);
	free(j->buf);
	free(j->lat);
}

/* bench: open (o)->path for each job, fill the area, run the rows. Returns 0 or -1 after saying why. */
static int bench(const struct opts *o, struct job *jobs)
{
	unsigned int n = 0;
	uint64_t area = 0;
	int ret = 0;

	for (; n < o->jobs && ret == 0; n++)
		ret = job_setup(&jobs[n], n, o->path);
	if (ret == 0)
		ret = area_size(jobs[0].fd, o, &area);
	if (ret == 0 && o->fill)
		ret = fill_area(&jobs[0], area);
	for (unsigned int r = 0; r < o->nrows && ret == 0; r++)
		ret = run_row(jobs, o, area, o->rows[r]);
	while (n > 0)
		job_teardown(&jobs[--n]);
	return ret ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct job jobs[MAX_JOBS];
	struct opts o;
	int ret;

	ret = parse_args(argc, argv, &o);
	if (ret)
		return ret > 0 ? 0 : EXIT_FAILED;
	if (bench(&o, jobs))
		return EXIT_FAILED;
	printf("BLKBENCH done\n");
	fflush(stdout);
	return 0;
}
