/* exit_status.h: kvmini's exit statuses, which the VM and its vCPUs report. */
#ifndef KVMINI_EXIT_STATUS_H
#define KVMINI_EXIT_STATUS_H

/*
 * kvmini's exit statuses (README "Exit status"); debug-exit takes the odd ones, (v << 1) | 1; 12 is
 * VM_EXIT_DEVICE (device_process.h), 14 THREAD_FILTER_REFUSED_STATUS (thread_filter.h).
 */
#define VM_EXIT_POWEROFF    0	/* the guest powered off (ACPI S5) */
#define VM_EXIT_ERROR	    2	/* kvmini's own error: bad command line or input, KVM failure */
#define VM_EXIT_REBOOT	    4	/* the guest asked for a reset */
#define VM_EXIT_PANIC	    6	/* the guest reported a panic through pvpanic */
#define VM_EXIT_CRASH	    8	/* the vCPU cannot go on: triple fault, KVM emulation failure */
#define VM_EXIT_QUIT	    10	/* the user quit from the console (Ctrl-A x) */
#define VM_EXIT_SIGNAL_BASE 128 /* + signal number, for SIGINT, SIGTERM, SIGHUP */

#endif
