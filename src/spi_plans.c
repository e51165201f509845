/*
 * spi_plans.c
 *	  The one place candystore prepares and keeps SPI plans.  Kept plans are
 *	  revalidated by PostgreSQL when the tables they use change, so a backend
 *	  can hold them across DROP/CREATE EXTENSION.
 */
#include "postgres.h"

#include "spi_plans.h"

SPIPlanPtr
spi_prepare_kept(const char *sql, int nargs, Oid *argtypes, int cursor_options)
{
	SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, argtypes, cursor_options);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed for \"%s\"", sql);
	return plan;
}
