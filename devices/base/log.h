/* log.h: one-line diagnostics on stderr, prefixed "kvmini:". */
#ifndef KVMINI_LOG_H
#define KVMINI_LOG_H

/* NOTICE is printed by default: events a user asked for, such as the boot marker. */
enum log_level {
	LOG_ERR,
	LOG_WARN,
	LOG_NOTICE,
	LOG_INFO,
	LOG_DEBUG
};

/* log_set_level: messages above (level) are dropped. Call once, before threads start. */
void log_set_level(enum log_level level);
/*
 * log_set_name: prefix lines with (name) rather than "kvmini" (a device process: "kvmini[vda]"); also
 * asks once whether stderr is a terminal. Call once, before threads start and before any lock-down.
 */
void log_set_name(const char *name);
/* log_enabled: whether a message at (level) would be printed (to skip costly formatting). */
int log_enabled(enum log_level level);
/* log_msg: print one line at (level), printf-style; safe from any thread (one write(2) a line). */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The layers of a virtual machine, as the README defines them. A failure that belongs to one names it
 * first, one way everywhere: messages, and later counters and the API.
 */
enum layer {
	LAYER_HARDWARE, /* L-0: CPU virtualisation extensions, KVM, interrupt controllers, nested paging */
	LAYER_VCPU,	/* L-1: vCPU threads, their registers and the exits they take */
	LAYER_PVIO, /* L-2: paravirtual I/O: event channels (ioeventfd, irqfd, MSI routes), shared memory */
	LAYER_SANDBOX, /* L-3: what surrounds them: syscall filters, namespaces, cgroups, Landlock */
};

/* layer_name: (l) as messages write it, "L-0 hardware"; layer_tag: just "L-0". */
const char *layer_name(enum layer l);
const char *layer_tag(enum layer l);
/* log_layer: as log_msg, the line starting with the name of layer (l) ("L-1 vCPUs: ..."). */
void log_layer(enum log_level level, enum layer l, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(...)	log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
