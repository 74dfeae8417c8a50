/* dynlib.c: a library loaded when first needed (dlopen) and its functions looked up by name: OpenSSL for TLS, libedit for a terminal's prompt. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "luaha.h"

/*
 * A library that most processes never use costs each of them its
 * relocated pages when it is linked: OpenSSL 1.7 MiB, libedit and its
 * terminfo 0.4 MiB; in the heartbeat part, whose memory is locked
 * (mlockall), every page of them: 5.3 and 0.4 MiB. So the few functions
 * of such a library are looked up when first needed, as keepalived loads
 * libnl and libiptc.
 *
 * Loads soname and writes the address of each names[i] into the pointer
 * that slots[i] points to (a function pointer, or a pointer to a
 * variable, of the type its header declares): 0, or -1 with why in err.
 * Loading again is cheap (dlopen counts references); a library is never
 * unloaded, since its exit handlers could then run at the wrong time.
 */
int
dynlib_load(const char *soname, const char *const names[], void *const slots[],
    size_t n, char *err, size_t errlen)
{
	void	*lib, *p;
	size_t	 i;

	if ((lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(err, errlen, "%s", dlerror());
		return (-1);
	}
	for (i = 0; i < n; i++) {
		if ((p = dlsym(lib, names[i])) == NULL) {
			snprintf(err, errlen, "%s: no symbol %s", soname, names[i]);
			return (-1);
		}
		memcpy(slots[i], &p, sizeof(p));
	}
	return (0);
}
