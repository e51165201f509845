/*
 * spi_plans.h
 *	  SPI plans prepared once and kept for the life of the backend.
 */
#ifndef CANDYSTORE_SPI_PLANS_H
#define CANDYSTORE_SPI_PLANS_H

#include "postgres.h"
#include "executor/spi.h"

/* Prepares sql (with SPI_prepare_cursor's options) and keeps it; raises on failure. */
extern SPIPlanPtr spi_prepare_kept(const char *sql, int nargs, Oid *argtypes,
								   int cursor_options);

#endif
