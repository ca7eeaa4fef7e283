// Minimal declarations for the parts of dcmjs Lucida uses (dcmjs ships none).
declare module 'dcmjs' {
  interface DictEntry { tag: string; vr: string; vm: string; name: string; version?: string }
  interface DicomDictInstance {
    meta: Record<string, any>;
    dict: Record<string, any>;
    write(options?: Record<string, unknown>): ArrayBuffer;
  }
  const dcmjs: {
    data: {
      DicomMessage: {
        readFile(buffer: ArrayBuffer, options?: Record<string, unknown>): DicomDictInstance;
      };
      DicomDict: new (meta: Record<string, any>) => DicomDictInstance;
      DicomMetaDictionary: {
        dictionary: Record<string, DictEntry>;
        nameMap: Record<string, DictEntry>;
        sopClassUIDsByName: Record<string, string>;
        sopClassNamesByUID: Record<string, string>;
        punctuateTag(tag: string): string;
        unpunctuateTag(tag: string): string;
        naturalizeDataset(dict: Record<string, any>): Record<string, any>;
        denaturalizeDataset(ds: Record<string, any>): Record<string, any>;
        uid(): string;
      };
    };
    log: { setLevel?(level: string): void; level?: unknown; disableAll?(): void };
  };
  export default dcmjs;
}
