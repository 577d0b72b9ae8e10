/* test_registry.c: the record of slots, ioeventfds and irqfds: add, replace, remove, full, copy. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "registry.h"

static struct registry r, copy;

Test(registry, slots_are_replaced_by_number)
{
	cr_assert_eq(registry_init(&r), 0);
	registry_slot(&r, &(struct registry_slot){ .slot = 0, .size = 1 << 20 });
	registry_slot(&r, &(struct registry_slot){ .slot = 1, .guest_phys = 1ULL << 32, .size = 2 << 20 });
	registry_slot(&r, &(struct registry_slot){ .slot = 0, .size = 1 << 20, .flags = 1 });
	registry_copy(&r, &copy);
	cr_assert_eq(copy.nr_slots, 2);
	cr_assert_eq(copy.slots[0].flags, 1, "slot 0 replaced, not added again");
	cr_assert_eq(copy.slots[1].guest_phys, 1ULL << 32);
	registry_destroy(&r);
}

Test(registry, event_channels_come_and_go_as_kvm_matches_them)
{
	struct registry_ioeventfd a = { .addr = 0xfe003000, .fd = 7 }, b = { .addr = 0xfe003004, .fd = 8 };

	cr_assert_eq(registry_init(&r), 0);
	registry_ioeventfd(&r, &a, true);
	registry_ioeventfd(&r, &b, true);
	registry_ioeventfd(&r, &(struct registry_ioeventfd){ .addr = 0xfe003000, .fd = 9 }, false);
	cr_assert_eq(r.nr_ioeventfds, 2, "another fd at the same address is not the one assigned");
	registry_ioeventfd(&r, &a, false);
	cr_assert_eq(r.nr_ioeventfds, 1);
	cr_assert_eq(r.ioeventfds[0].fd, 8);
	registry_irqfd(&r, &(struct registry_irqfd){ .gsi = 24, .fd = 10 }, true);
	registry_irqfd(&r, &(struct registry_irqfd){ .gsi = 24, .fd = 10 }, false);
	cr_assert_eq(r.nr_irqfds, 0);
	registry_destroy(&r);
}

Test(registry, a_full_record_keeps_the_first_ones)
{
	cr_assert_eq(registry_init(&r), 0);
	for (int i = 0; i < REGISTRY_IRQFDS + 10; i++)
		registry_irqfd(&r, &(struct registry_irqfd){ .gsi = (uint32_t)i, .fd = i }, true);
	cr_assert_eq(r.nr_irqfds, REGISTRY_IRQFDS);
	cr_assert_eq(r.irqfds[REGISTRY_IRQFDS - 1].gsi, REGISTRY_IRQFDS - 1);
	registry_destroy(&r);
}
