/*
 * asan_init_fix.c
 *	  Preloaded after the AddressSanitizer runtime into the (uninstrumented)
 *	  postgres binary.  There ASan initializes lazily, inside the first
 *	  malloc(), which is libgpg-error's constructor calling bindtextdomain()
 *	  with glibc's gettext lock held.  ASan's initialization looks up the
 *	  optional swift_demangle symbol, and the failed lookup formats its
 *	  dlerror() message through gettext: the same lock, a deadlock before
 *	  main().  With the symbol present the lookup succeeds and nothing is
 *	  translated.  It never demangles anything: NULL means "not Swift".
 */
#include <stddef.h>
#include <stdint.h>

char	   *swift_demangle(const char *mangled, size_t len, char *out,
						   size_t *outlen, uint32_t flags);

char *
swift_demangle(const char *mangled, size_t len, char *out, size_t *outlen, uint32_t flags)
{
	(void) mangled;
	(void) len;
	(void) out;
	(void) outlen;
	(void) flags;
	return NULL;
}
