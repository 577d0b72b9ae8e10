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
/* log_enabled: whether a message at (level) would be printed (to skip costly formatting). */
int log_enabled(enum log_level level);
/* log_msg: print one line at (level), printf-style; safe from any thread (one write(2) a line). */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)	log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
