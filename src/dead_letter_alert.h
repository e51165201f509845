/*
 * dead_letter_alert.h
 *	  Every dead letter is loud: a NOTIFY on candystore_dead_letter when its
 *	  transaction commits, and one LOG line, rate-limited per process
 *	  (src/dead_letter_alert.c).
 */
#ifndef CANDYSTORE_DEAD_LETTER_ALERT_H
#define CANDYSTORE_DEAD_LETTER_ALERT_H

#define CANDYSTORE_DEAD_LETTER_CHANNEL "candystore_dead_letter"

extern void dead_letter_alert_define_settings(void);
extern void dead_letter_alert_init(void);

#endif
