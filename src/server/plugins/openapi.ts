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
        { name: 'admin', description: 'Admin UI and API (session login)' },
        { name: 'ops', description: 'Health and metrics' },
      ],
    },
  });
}, { name: 'canota-openapi' });
