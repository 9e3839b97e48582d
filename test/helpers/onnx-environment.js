/**
 * A jest environment for tests that run onnxruntime-node. The native backend builds its output tensors
 * with the outer realm's typed arrays, which fail onnxruntime-common's `instanceof` checks inside jest's vm
 * context; sharing the outer realm's typed-array constructors makes the two agree.
 */
const { TestEnvironment } = require('jest-environment-node');

class OnnxEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of [
      'Float32Array',
      'Float64Array',
      'Int8Array',
      'Int16Array',
      'Int32Array',
      'Uint8Array',
      'Uint16Array',
      'Uint32Array',
      'BigInt64Array',
      'BigUint64Array',
      'ArrayBuffer',
    ]) {
      this.global[name] = globalThis[name];
    }
  }
}

module.exports = OnnxEnvironment;
