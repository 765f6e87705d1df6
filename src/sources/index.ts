/** The endpoint descriptors by source name. */
import type { EndpointDescriptor, SourceName } from './descriptor.js'
import { disk } from './disk.js'
import { events } from './events.js'
import { mail } from './mail.js'

export const ENDPOINTS: Readonly<Record<SourceName, EndpointDescriptor>> = { mail, disk, events }
