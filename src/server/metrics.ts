import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

/** The server's Prometheus metrics, on a registry of its own (several servers may share a test process). */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'canota_http_requests_total', help: 'HTTP requests answered, by route and status',
    labelNames: ['method', 'route', 'status'] as const, registers: [this.registry],
  });
  readonly downloads = new Counter({
    name: 'canota_downloads_total', help: 'OTA downloads, by outcome (ok, failed)',
    labelNames: ['outcome'] as const, registers: [this.registry],
  });
  readonly downloadBytes = new Counter({
    name: 'canota_download_bytes_total', help: 'Bytes sent by OTA downloads', registers: [this.registry],
  });
  readonly nonces = new Counter({
    name: 'canota_nonces_total', help: 'Nonces issued and their uses, by outcome (issued, ok, unknown, used, expired)',
    labelNames: ['outcome'] as const, registers: [this.registry],
  });
  readonly logins = new Counter({
    name: 'canota_logins_total', help: 'Login attempts, by outcome (ok, failed, locked)',
    labelNames: ['outcome'] as const, registers: [this.registry],
  });
  readonly uploads = new Counter({
    name: 'canota_uploads_total', help: 'Uploads, by outcome (ok, denied, failed)',
    labelNames: ['outcome'] as const, registers: [this.registry],
  });
  readonly vehicleAuth = new Counter({
    name: 'canota_vehicle_auth_total', help: 'Vehicle token checks, by outcome (ok, invalid, missing)',
    labelNames: ['outcome'] as const, registers: [this.registry],
  });
  readonly vehicleReports = new Counter({
    name: 'canota_vehicle_reports_total', help: 'Vehicle reports, by outcome (stored, refused)',
    labelNames: ['outcome'] as const, registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'canota_' });
  }
}
