/* unit.h: a tiny harness for the C unit tests: CHECK records failures, each case prints PASS or FAIL. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>

static int	unit_failed;		/* failures in the current case */
static int	unit_total_failed;	/* cases that failed */

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		printf("  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
		unit_failed++;						\
	}								\
} while (0)

#define RUN(name, fn) do {						\
	unit_failed = 0;						\
	fn();								\
	if (unit_failed == 0)						\
		printf("PASS %s\n", name);				\
	else {								\
		printf("FAIL %s: %d checks failed\n", name, unit_failed); \
		unit_total_failed++;					\
	}								\
	fflush(stdout);							\
} while (0)

#define UNIT_EXIT()	return (unit_total_failed == 0 ? 0 : 1)

#endif
