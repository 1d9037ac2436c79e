/*
 * A stand-in for the electric drive train's application, for canota's firmware corpus
 * (scripts/firmware-corpus.ts): a torque controller that logs its operating points into SQLite (the
 * amalgamation better-sqlite3 ships), built for a Cortex-M4 with newlib. It never runs; it is built so that
 * the corpus holds real ARM machine code, real calibration tables and a real library, and consecutive
 * versions differ the way releases do. FW_MINOR / FW_MAJOR select the version's changes.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "sqlite3.h"

#ifndef FW_MAJOR
#define FW_MAJOR 1
#endif
#ifndef FW_MINOR
#define FW_MINOR 0
#endif

/* Calibration: torque limit (Nm) over motor speed (rpm / 500) and battery temperature (degrees C / 10 + 4). */
static const float torque_map[24][12] = {
#define ROW(base, slope) { base, base - slope, base - 2 * slope, base - 3 * slope, base - 4 * slope, base - 5 * slope, \
  base - 6 * slope, base - 7 * slope, base - 8 * slope, base - 9 * slope, base - 10 * slope, base - 11 * slope }
#if FW_MINOR >= 1 || FW_MAJOR >= 2
  /* 1.1.0: the derating above 40 degrees C starts earlier (field returns of overheated inverters). */
  ROW(310.0f, 6.5f), ROW(309.5f, 6.5f), ROW(308.0f, 6.75f), ROW(305.0f, 7.0f), ROW(301.0f, 7.25f), ROW(296.0f, 7.5f),
#else
  ROW(310.0f, 6.0f), ROW(309.5f, 6.0f), ROW(308.0f, 6.25f), ROW(305.0f, 6.5f), ROW(301.0f, 6.75f), ROW(296.0f, 7.0f),
#endif
  ROW(290.0f, 7.5f), ROW(283.0f, 7.75f), ROW(275.0f, 8.0f), ROW(266.0f, 8.0f), ROW(256.0f, 8.25f), ROW(245.0f, 8.5f),
  ROW(233.0f, 8.5f), ROW(221.0f, 8.5f), ROW(209.0f, 8.25f), ROW(197.0f, 8.0f), ROW(185.0f, 7.75f), ROW(174.0f, 7.5f),
  ROW(163.0f, 7.0f), ROW(153.0f, 6.5f), ROW(144.0f, 6.0f), ROW(136.0f, 5.5f), ROW(129.0f, 5.0f), ROW(123.0f, 4.5f),
#undef ROW
};

struct operating_point {
  uint32_t time_ms;
  float speed_rpm;
  float torque_request_nm;
  float battery_temp_c;
  float inverter_temp_c;
};

static sqlite3 *db;

static float interpolate(float speed_rpm, float battery_temp_c) {
  float x = speed_rpm / 500.0f;
  float y = battery_temp_c / 10.0f + 4.0f;
  if (x < 0) x = 0;
  if (x > 22.999f) x = 22.999f;
  if (y < 0) y = 0;
  if (y > 10.999f) y = 10.999f;
  int i = (int)x, j = (int)y;
  float fx = x - i, fy = y - j;
  float a = torque_map[i][j] * (1 - fx) + torque_map[i + 1][j] * fx;
  float b = torque_map[i][j + 1] * (1 - fx) + torque_map[i + 1][j + 1] * fx;
  return a * (1 - fy) + b * fy;
}

float torque_limit(const struct operating_point *p) {
  float limit = interpolate(p->speed_rpm, p->battery_temp_c);
#if FW_MINOR >= 1 || FW_MAJOR >= 2
  /* 1.1.0: the inverter's own temperature derates too. */
  if (p->inverter_temp_c > 85.0f) limit *= fmaxf(0.0f, 1.0f - (p->inverter_temp_c - 85.0f) / 40.0f);
#endif
  return fminf(limit, p->torque_request_nm);
}

static int log_point(const struct operating_point *p, float granted) {
  char sql[256];
  snprintf(sql, sizeof sql, "INSERT INTO points VALUES (%lu, %.1f, %.2f, %.2f, %.1f, %.1f)",
           (unsigned long)p->time_ms, p->speed_rpm, p->torque_request_nm, granted, p->battery_temp_c, p->inverter_temp_c);
  return sqlite3_exec(db, sql, 0, 0, 0);
}

#if FW_MAJOR >= 2
/* 2.0.0: a drive-cycle summary the workshop reads, and regenerative braking statistics. */
static int summary_row(void *out, int columns, char **values, char **names) {
  for (int i = 0; i < columns; i++) printf("%s=%s%c", names[i], values[i] ? values[i] : "null", i + 1 < columns ? ' ' : '\n');
  (void)out;
  return 0;
}

int drive_cycle_summary(void) {
  static const char *queries[] = {
    "SELECT count(*) AS points, max(speed) AS top_speed, avg(granted) AS mean_torque FROM points",
    "SELECT sum(CASE WHEN requested < 0 THEN -granted ELSE 0 END) AS regen_nm, "
    "sum(CASE WHEN granted < requested THEN 1 ELSE 0 END) AS derated FROM points",
    "SELECT round(battery / 10) * 10 AS band, count(*), max(inverter) FROM points GROUP BY band ORDER BY band",
    "CREATE TABLE IF NOT EXISTS cycles(id INTEGER PRIMARY KEY, started INTEGER, ended INTEGER, energy REAL)",
    "INSERT INTO cycles(started, ended, energy) SELECT min(t), max(t), sum(speed * granted) / 9549.0 FROM points",
  };
  for (unsigned i = 0; i < sizeof queries / sizeof queries[0]; i++) {
    char *error = 0;
    if (sqlite3_exec(db, queries[i], summary_row, 0, &error) != SQLITE_OK) {
      printf("summary %u failed: %s\n", i, error);
      sqlite3_free(error);
      return -1;
    }
  }
  return 0;
}
#endif

int main(void) {
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) return 1;
  sqlite3_exec(db, "CREATE TABLE points(t INTEGER, speed REAL, requested REAL, granted REAL, battery REAL, inverter REAL)", 0, 0, 0);
  struct operating_point p = { 0, 0, 0, 25.0f, 40.0f };
  for (uint32_t step = 0; step < 1000; step++) {
    p.time_ms = step * 10;
    p.speed_rpm = 6000.0f * sinf(step / 200.0f) * sinf(step / 200.0f);
    p.torque_request_nm = 250.0f * cosf(step / 50.0f);
    p.battery_temp_c += 0.01f;
    p.inverter_temp_c += 0.05f;
    log_point(&p, torque_limit(&p));
  }
#if FW_MAJOR >= 2
  drive_cycle_summary();
#endif
  printf("EDT %d.%d: %d points logged\n", FW_MAJOR, FW_MINOR, sqlite3_changes(db));
  return sqlite3_close(db);
}

/* SQLITE_OS_OTHER: no operating system; the in-memory database needs no VFS of its own. */
int sqlite3_os_init(void) { return SQLITE_OK; }
int sqlite3_os_end(void) { return SQLITE_OK; }
