/**
 * What gRPC server reflection serves: the FileDescriptorProtos of proto/launchfleet/controller/v1
 * as protoc compiles them (`descriptor-set.binpb` beside the .proto files, made by
 * `npm run proto:descriptors`, which runs `buf build`; the buf integration test fails when it is
 * older than the .proto files). Not proto-loader's: those come from protobufjs, which merges a
 * package's files into one, names map entry types after the field (`Labels` where protobuf
 * requires `LabelsEntry`) and writes relative type names, so Go-protobuf tools (buf curl,
 * grpcurl) refuse the file: "failed to find service named ... in schema".
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PackageDefinition } from '@grpc/proto-loader';
import { protoRoot } from './proto.ts';

/** The checked-in descriptor set (FileDescriptorSet) of the controller's API. */
export const descriptorSetFile = join(protoRoot, 'launchfleet', 'controller', 'v1', 'descriptor-set.binpb');

/**
 * Splits a FileDescriptorSet (`repeated FileDescriptorProto file = 1`) into the encoded files,
 * without decoding them: reflection hands the bytes on as they are.
 */
export function splitDescriptorSet(set: Uint8Array): Uint8Array[] {
  const files: Uint8Array[] = [];
  let i = 0;
  const varint = (): number => {
    let v = 0;
    let shift = 0;
    for (;;) {
      if (i >= set.length) throw new Error('descriptor set: truncated varint');
      const b = set[i++]!;
      v += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return v;
      shift += 7;
      if (shift > 49) throw new Error('descriptor set: varint too long');
    }
  };
  while (i < set.length) {
    const key = varint();
    if (key !== ((1 << 3) | 2)) throw new Error(`descriptor set: unexpected field key ${key}`);
    const len = varint();
    if (i + len > set.length) throw new Error('descriptor set: truncated file');
    files.push(set.subarray(i, i + len));
    i += len;
  }
  return files;
}

/**
 * A package definition in the shape @grpc/reflection reads (`fileDescriptorProtos` per entry),
 * holding the checked-in files; pass the served services' names as its `services` option.
 */
export function reflectionPackage(file = descriptorSetFile): PackageDefinition {
  const fileDescriptorProtos = splitDescriptorSet(readFileSync(file)).map((b) => Buffer.from(b));
  return { 'launchfleet.controller.v1': { fileDescriptorProtos } } as unknown as PackageDefinition;
}
