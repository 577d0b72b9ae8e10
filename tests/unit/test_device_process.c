/* test_device_process.c: the launcher of device processes: what it refuses once sealed, and its end. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "device_process.h"

/* Whether process (pid) exists and is not a zombie. */
static bool running(pid_t pid)
{
	char path[64], state = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1)
		state = 0;
	fclose(f);
	return state && state != 'Z' && state != 'X';
}

static const char *const blk_args[] = { "device", "blk", "--disk", "/nonexistent.img", NULL };

Test(device_launcher, a_sealed_launcher_starts_no_new_device)
{
	struct device_launcher l;
	struct device_process p;

	cr_assert_eq(device_launcher_start(&l), 0);
	cr_assert_gt(l.pid, 0);
	cr_assert_eq(device_launcher_seal(&l), 0);
	cr_assert_eq(device_process_spawn(&p, &l, 3, "virtio-blk vdz", blk_args, -1, -1), -EPERM);
	cr_assert_eq(p.pid, 0);
	cr_assert_eq(p.sock, -1);
	/* Nor again what it never started. */
	cr_assert_eq(device_process_respawn(&p), -EPERM);
	device_launcher_stop(&l);
	cr_assert_eq(l.pid, 0);
}

Test(device_launcher, a_slot_out_of_range_is_refused)
{
	struct device_launcher l;
	struct device_process p;

	cr_assert_eq(device_launcher_start(&l), 0);
	cr_assert_eq(device_process_spawn(&p, &l, DEVICE_LAUNCHER_SLOTS, "virtio-blk vdz", blk_args, -1, -1),
		     -EINVAL);
	device_launcher_stop(&l);
}

Test(device_launcher, it_ends_when_kvmini_dies)
{
	int out[2];
	pid_t kid, launcher = 0;

	cr_assert_eq(pipe(out), 0);
	kid = fork();
	cr_assert_geq(kid, 0);
	if (kid == 0) {
		struct device_launcher l;

		if (device_launcher_start(&l) == 0 && write(out[1], &l.pid, sizeof(l.pid)) == sizeof(l.pid))
			pause(); /* killed below */
		_exit(1);
	}
	close(out[1]);
	cr_assert_eq(read(out[0], &launcher, sizeof(launcher)), (ssize_t)sizeof(launcher));
	cr_assert_eq(kill(kid, SIGKILL), 0);
	cr_assert_eq(waitpid(kid, NULL, 0), kid);
	/* Its parent-death signal: gone within a second (not our child: a zombie until its reaper reaps). */
	for (int i = 0; i < 100 && running(launcher); i++)
		usleep(10000);
	cr_assert(!running(launcher), "the launcher %d outlived kvmini", (int)launcher);
}
