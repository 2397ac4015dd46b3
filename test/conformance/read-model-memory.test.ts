// The in-process read model (the embedded default) against the read model conformance suite.
import { MemoryReadModel } from '../../adapters/memory/index.js';
import { readModelConformance } from './read-model.js';

readModelConformance('memory', async (options) => ({ model: new MemoryReadModel(options) }));
