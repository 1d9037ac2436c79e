import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';

/** Collects every route's schema into an OpenAPI document (register before the routes). */
export const openApiPlugin = fp(async (app) => {
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'canota OTA server',
        description: 'Seed-compatible OTA routes (`/latest_version`, `/get_nonce`, `/ota_download/…`), the admin UI and `/api/v1`.',
        version: '1',
      },
      tags: [
        { name: 'ota', description: 'What vehicles use: seed-compatible' },
        { name: 'vehicles', description: 'What the TMU uses besides the seed\'s routes: releases per ECU, signed manifests, reports (vehicle token)' },
        { name: 'admin', description: 'Admin UI and API (session login)' },
        { name: 'ops', description: 'Health and metrics' },
      ],
      components: {
        securitySchemes: {
          vehicleToken: { type: 'http', scheme: 'bearer', description: 'A vehicle\'s token from `canota vehicle register VIN`' },
        },
      },
    },
  });
}, { name: 'canota-openapi' });
