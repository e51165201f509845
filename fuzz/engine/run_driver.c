/*
 * run_driver.c
 *	  Linked only into the fuzzing build of candystore.so, together with
 *	  libFuzzer's runtime, whose symbols that link makes local
 *	  (--exclude-libs): the sanitizer runtime, preloaded first, has no-op
 *	  weak definitions of the coverage callbacks, and a global lookup would
 *	  bind the instrumented code to those instead of libFuzzer's.  This is
 *	  the one symbol the fuzz targets (candystore_fuzz.so) need from it.
 */
#include <stddef.h>
#include <stdint.h>

typedef int (*FuzzCallback) (const uint8_t *data, size_t size);

extern int	LLVMFuzzerRunDriver(int *argc, char ***argv, FuzzCallback callback);
extern int	candystore_fuzz_run_driver(int *argc, char ***argv, FuzzCallback callback);

int
candystore_fuzz_run_driver(int *argc, char ***argv, FuzzCallback callback)
{
	return LLVMFuzzerRunDriver(argc, argv, callback);
}
