/**
 * The route table of the HTTP API and the web page, served identically by both transports.
 */
import { catalogRoutes } from './catalog-routes.js'
import { monitorRoutes } from './monitor-routes.js'
import { playRoutes } from './play-routes.js'
import { recordingRoutes } from './recording-routes.js'
import { Router } from './router.js'
import { systemRoutes } from './system-routes.js'
import { webRoutes } from './web-routes.js'
import { webhookRoutes } from './webhook-routes.js'


export const router = new Router([...systemRoutes, ...catalogRoutes, ...recordingRoutes, ...monitorRoutes, ...playRoutes, ...webhookRoutes, ...webRoutes])
