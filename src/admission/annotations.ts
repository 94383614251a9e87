/** The annotation names under a prefix (PRODUCT.md "ServiceAccount annotations"). */
export interface AnnotationNames {
  roleArn: string
  targetRoleArn: string
  sessionPolicy: string
  disableSessionTags: string
  normalizedPolicy: string
  associationId: string
}

export function annotationNames(prefix: string): AnnotationNames {
  return {
    roleArn: `${prefix}/role-arn`,
    targetRoleArn: `${prefix}/target-role-arn`,
    sessionPolicy: `${prefix}/session-policy`,
    disableSessionTags: `${prefix}/disable-session-tags`,
    normalizedPolicy: `${prefix}/normalized-policy`,
    associationId: `${prefix}/association-id`,
  }
}

/** The annotations a developer sets: any of them makes a ServiceAccount guarded. */
export function inputAnnotations(names: AnnotationNames): string[] {
  return [names.roleArn, names.targetRoleArn, names.sessionPolicy, names.disableSessionTags]
}

export function isGuarded(annotations: Record<string, string>, names: AnnotationNames): boolean {
  return inputAnnotations(names).some((name) => name in annotations)
}

/** Whether an UPDATE leaves every input annotation as it was (status writes must never get stuck). */
export function inputsUnchanged(
  before: Record<string, string>,
  after: Record<string, string>,
  names: AnnotationNames,
): boolean {
  return inputAnnotations(names).every((name) => before[name] === after[name])
}

/** Annotations under the prefix that session-guard does not know: most likely a typo. */
export function unknownAnnotations(annotations: Record<string, string>, prefix: string, names: AnnotationNames): string[] {
  const known = new Set(Object.values(names))
  return Object.keys(annotations).filter((key) => key.startsWith(`${prefix}/`) && !known.has(key)).sort()
}
