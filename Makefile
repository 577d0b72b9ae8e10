# kvmini: `make` builds build/kvmini; `make test` runs every test (README).
CC ?= cc
# ARCH: what kvmini is built for, x86_64 or arm64; by default this machine's. On an x86-64 machine,
# `make ARCH=arm64` cross-builds build/arm64/kvmini with Debian's gcc-aarch64-linux-gnu and arm64 libraries.
HOST_ARCH := $(shell uname -m | sed 's/aarch64/arm64/')
ARCH ?= $(HOST_ARCH)
ifeq ($(filter $(ARCH),x86_64 arm64),)
$(error ARCH=$(ARCH): kvmini builds for x86_64 and arm64)
endif
ARCH_DIR := $(if $(filter arm64,$(ARCH)),arm64,x86)
LIB_FDT := -lfdt
LIB_HTTP_PARSER := -lhttp_parser
ifneq ($(ARCH),$(HOST_ARCH))
CC := aarch64-linux-gnu-gcc
AR := aarch64-linux-gnu-ar
BUILD ?= build/$(ARCH)
# Debian's libfdt-dev and libhttp-parser-dev install for one architecture at a time: a cross build
# takes their headers from the host's and links the arm64 run-time libraries by name.
LIB_FDT := -l:libfdt.so.1
LIB_HTTP_PARSER := -l:libhttp_parser.so.2.9
endif
BUILD ?= build
VERSION := 0.1.0
WARN := -Wall -Wextra -Wmissing-prototypes -Wshadow -Werror
CFLAGS ?= -O2 -g
CPPFLAGS += -std=c11 -D_GNU_SOURCE -DKVMINI_VERSION='"$(VERSION)"' -MMD -MP
LDLIBS += -lpthread -lseccomp $(LIB_HTTP_PARSER) -ljson-c
# arm64 writes its guest's device tree with libfdt and inflates Image.gz kernels with zlib.
LDLIBS_arm64 := $(LIB_FDT) -lz
LDLIBS += $(LDLIBS_$(ARCH))
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

# vmm/x86 and vmm/arm64 hold what differs by architecture behind vmm/arch.h (KVM's interrupt controllers,
# vCPU registers, the machine's layout); the loaders and tables in firmware/ are portable C and build for
# either, so the unit tests check both on any machine.
LIB_SRCS := $(filter-out vmm/main.c,$(wildcard vmm/*.c vmm/$(ARCH_DIR)/*.c)) \
	$(wildcard devices/*.c devices/base/*.c devices/virtio/*.c devices/devproc/*.c firmware/*/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
SAN_OBJS := $(LIB_SRCS:%.c=$(BUILD)/san/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)

.PHONY: all arm64 guest test test-unit test-harness test-integration test-fuzz demo clean setup format format-check lint
ALL_x86_64 := $(BUILD)/kvmini $(BUILD)/kvmini-san guest $(BUILD)/tests/exit-floor
ALL_arm64 := $(BUILD)/kvmini guest $(BUILD)/tests/exit-floor
all: $(ALL_$(ARCH))

# The arm64 build beside the x86 one, in $(BUILD)/arm64: the integration tests boot it in kvm-env's arm64 mode.
arm64:
	$(MAKE) ARCH=arm64 BUILD=$(BUILD)/arm64 all

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -c $< -o $@

$(BUILD)/san/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -O1 -g $(SAN) $(WARN) -c $< -o $@

$(BUILD)/libkvmini.a: $(LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/libkvmini-san.a: $(SAN_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/kvmini: $(BUILD)/obj/vmm/main.o $(BUILD)/libkvmini.a
	$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

# The same VMM under ASan/UBSan: integration tests boot a guest with it too.
$(BUILD)/kvmini-san: $(BUILD)/san/vmm/main.o $(BUILD)/libkvmini-san.a
	$(CC) $(SAN) $^ $(LDLIBS) -o $@

# Unit tests link the module under test (pulled from the archive) and never main.c.
$(BUILD)/tests/unit/%: tests/unit/%.c $(BUILD)/libkvmini-san.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -O1 -g $(SAN) $(WARN) -Ifirmware/x86 -Ifirmware/arm64 -Ivmm -Ivmm/$(ARCH_DIR) -Idevices -Idevices/base $< $(BUILD)/libkvmini-san.a \
		-lcriterion $(LDLIBS) -o $@
$(BUILD)/tests/unit/test_dtb: LDLIBS += -lfdt

# Guest programs: the test initramfs and the bare-metal exit-latency guest (their scripts rebuild as needed).
guest:
	ARCH=$(ARCH) guest/build $(BUILD)
	$(if $(filter x86_64,$(ARCH)),guest/exitlat/build,guest/exitlat/arm64/build) $(BUILD)/guest

# The arm64 loader inflates Image.gz kernels with zlib.
$(BUILD)/tests/unit/test_image: LDLIBS += -lz

# The floor for a userspace exit: a raw KVM program, the benchmark's peer (an object a source, so that
# each has its own dependency file).
$(BUILD)/obj/tests/bench/exit_floor.o: CPPFLAGS += -Idevices/base -Iguest/exitlat
$(BUILD)/tests/exit-floor: $(BUILD)/obj/tests/bench/exit_floor.o $(BUILD)/obj/devices/base/stats.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $^ -o $@

test: format-check lint test-unit test-harness test-fuzz test-integration

test-unit: $(UNIT_BINS)
	@scripts/run-unit $(UNIT_BINS)

# The integration harness's own rules (retries, flaky, process groups) on stand-in tests: no VM.
test-harness:
	PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -m pytest -c tests/harness/pytest.ini tests/harness

test-integration: $(BUILD)/kvmini $(BUILD)/kvmini-san guest $(if $(filter x86_64,$(ARCH)),arm64)
	tests/integration/run --host
	tests/integration/run

# libFuzzer targets (clang): each runs for FUZZ_SECONDS from its seed corpus; a crash fails the build.
FUZZ_SECONDS ?= 20
# The longest input any target reads: a 16-byte header and 12 KiB of guest RAM (virtq, blk).
FUZZ_MAX_LEN ?= 12304
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/tests/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined $(WARN) -Ivmm -Idevices -Idevices/base -Ifirmware/x86 -Ifirmware/arm64

# What each target links beside its own file: the code under test, never main.c.
$(BUILD)/tests/fuzz/fuzz_virtq: devices/virtio/virtq.c devices/base/mem.c
$(BUILD)/tests/fuzz/fuzz_blk: devices/virtio/blk.c devices/virtio/virtq.c devices/base/mem.c devices/base/log.c
$(BUILD)/tests/fuzz/fuzz_net: devices/virtio/net.c devices/virtio/worker.c devices/virtio/virtq.c devices/base/mem.c devices/base/log.c
$(BUILD)/tests/fuzz/fuzz_vsock: devices/virtio/vsock.c devices/virtio/worker.c devices/virtio/virtq.c devices/base/mem.c \
	devices/base/log.c devices/base/sockpath.c
$(BUILD)/tests/fuzz/fuzz_virtio_pci: devices/virtio/pci.c devices/virtio/device.c devices/virtio/local.c \
	devices/virtio/worker.c devices/virtio/virtq.c \
	devices/pci.c devices/msix.c devices/base/mem.c devices/base/log.c
$(BUILD)/tests/fuzz/fuzz_pci: devices/pci.c devices/msix.c
$(BUILD)/tests/fuzz/fuzz_bzimage: firmware/x86/boot_linux.c vmm/file.c devices/base/mem.c firmware/x86/boot_params.c
$(BUILD)/tests/fuzz/fuzz_multiboot: firmware/x86/boot_multiboot.c vmm/file.c devices/base/mem.c firmware/x86/e820.c
$(BUILD)/tests/fuzz/fuzz_image: firmware/arm64/image.c vmm/file.c devices/base/mem.c
$(BUILD)/tests/fuzz/fuzz_vhu_front: devices/virtio/vhu_front.c devices/vhost_user.c devices/virtio/worker.c \
	devices/virtio/virtq.c devices/base/mem.c devices/base/log.c
$(BUILD)/tests/fuzz/fuzz_vhost_user: devices/vhost_user.c devices/base/mem.c devices/base/log.c
$(BUILD)/tests/fuzz/fuzz_api: vmm/api.c vmm/event.c devices/base/sockpath.c devices/base/log.c

# fuzz_net and fuzz_vsock see every used length as the device publishes it: the guest may overwrite its
# used ring.
FUZZ_LDFLAGS_fuzz_net := -Wl,--wrap=virtq_push,--wrap=virtq_push_n
FUZZ_LDFLAGS_fuzz_vsock := $(FUZZ_LDFLAGS_fuzz_net)
# fuzz_virtio_pci tells a device reset by the workers it stops.
FUZZ_LDFLAGS_fuzz_virtio_pci := -Wl,--wrap=virtio_worker_stop
# fuzz_api's server parses with http-parser and answers with json-c.
FUZZ_LDFLAGS_fuzz_api := -lhttp_parser -ljson-c
# fuzz_image's loader inflates gzip'd kernels with zlib.
FUZZ_LDFLAGS_fuzz_image := -lz

$(BUILD)/tests/fuzz/fuzz_%: tests/fuzz/fuzz_%.c
	@mkdir -p $(@D)
	clang $(FUZZ_FLAGS) $^ $(FUZZ_LDFLAGS_$(@F)) -o $@

test-fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do \
		name=$${f##*/fuzz_}; out=$(BUILD)/tests/fuzz/corpus-$$name; mkdir -p $$out; \
		echo "fuzz: $$name for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAX_LEN) -print_final_stats=1 \
			-artifact_prefix=$(BUILD)/tests/fuzz/ $$out tests/fuzz/corpus/$$name \
			>$(BUILD)/tests/fuzz/$$name.log 2>&1 || { tail -n 40 $(BUILD)/tests/fuzz/$$name.log; exit 1; }; \
		grep -E '^stat::number_of_executed_units' $(BUILD)/tests/fuzz/$$name.log; \
	done

# fuzz-long: the same runs for longer, FUZZ_SECONDS=600 unless given (test-fuzz inherits the value).
.PHONY: fuzz-long
fuzz-long: FUZZ_SECONDS = 600
fuzz-long: test-fuzz

demo:
	scripts/demo

setup:
	scripts/setup

# Every C file in the tree, by the house .clang-format.
FORMAT_SRCS = $(shell git ls-files '*.c' '*.h')

format:
	clang-format -i $(FORMAT_SRCS)

format-check:
	clang-format --dry-run -Werror $(FORMAT_SRCS)

# Every shell script in the tree (by its #! line) through shellcheck; the Python harness, tests and
# benchmarks through pyflakes.
SHELL_SCRIPTS = $(shell for f in $$(git ls-files scripts tests guest .ci); do \
	head -n 1 "$$f" | grep -qE '^\#!.*/(env )?(ba)?sh$$' && echo "$$f"; done)

lint:
	shellcheck $(SHELL_SCRIPTS)
	PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -m pyflakes $(wildcard tests/*/*.py)

clean:
	rm -rf $(BUILD)

# tests/exit-floor.d: left by an older rule that built exit-floor from two sources at once, naming one.
-include $(filter-out $(BUILD)/tests/exit-floor.d,$(shell find $(BUILD) -name '*.d' 2>/dev/null))
