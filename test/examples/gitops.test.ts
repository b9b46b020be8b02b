/**
 * examples/flux and examples/kargo: the objects the flux and kargo targets act on. Flux objects
 * pass @kubernetes-models/flux-cd (Flux's own CRD schemas); the Warehouse passes Kargo's CRD
 * openAPIV3Schema and each image subscription Kargo's own subscription schema (test/corpus).
 * The docs pages show the same objects.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { expect } from 'chai';
import { parse } from 'yaml';
import { validateObject } from '../charts/helm';
import { readSchema } from '../helpers/corpus';
import { EXAMPLES_DIR, readYamlDocuments, REPO_ROOT } from './support';

type Tree = Record<string, any>;

/** The yaml block of a docs page (below docs/) that holds an object of `kind`. */
function docsObject(page: string, kind: string): Tree {
  const text = readFileSync(path.join(REPO_ROOT, 'docs', page), 'utf8');
  const blocks = [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parse(m[1]) as Tree);
  const found = blocks.find((b) => b?.kind === kind);
  if (!found) throw new Error(`docs/${page} shows no ${kind}`);
  return found;
}

function warehouseValidators() {
  // Patterns are RE2 (Go), which accepts escapes such as `\_` that JavaScript's unicode mode refuses.
  const crd = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
  addFormats(crd);
  // Kubernetes' own formats: the value's type is written beside them, so any value passes here.
  for (const format of ['int32', 'int64']) crd.addFormat(format, true);
  const subscription = new Ajv2020({ allErrors: true, strict: false });
  return {
    warehouse: crd.compile(readSchema('kargo', 'warehouse.json')),
    image: subscription.compile(readSchema('kargo', 'image-subscription.json')),
  };
}

describe('examples/flux', () => {
  for (const file of ['image-repository.yaml', 'receiver.yaml']) {
    for (const object of readYamlDocuments(path.join(EXAMPLES_DIR, 'flux', file)) as Tree[]) {
      it(`${file}: the ${object.kind} passes Flux's schema (@kubernetes-models/flux-cd)`, async () => {
        await validateObject(object);
      });
    }
  }

  it('the schema check refuses an ImageRepository without spec.image (the check itself)', async () => {
    const [repository] = readYamlDocuments(path.join(EXAMPLES_DIR, 'flux', 'image-repository.yaml')) as Tree[];
    const broken = structuredClone(repository);
    delete broken.spec.image;
    const refusal = await validateObject(broken).then(
      () => undefined,
      (err: Error) => err.message,
    );
    expect(refusal).to.match(/spec/);
  });

  it('docs/targets/flux.md shows the example ImageRepository', () => {
    const [repository] = readYamlDocuments(path.join(EXAMPLES_DIR, 'flux', 'image-repository.yaml'));
    expect(docsObject('targets/flux.md', 'ImageRepository')).to.deep.equal(repository);
  });
});

describe('examples/kargo', () => {
  const [warehouse] = readYamlDocuments(path.join(EXAMPLES_DIR, 'kargo', 'warehouse.yaml')) as Tree[];

  it("the Warehouse passes Kargo's CRD schema, and each image subscription Kargo's subscription schema", () => {
    const { warehouse: validWarehouse, image } = warehouseValidators();
    expect(validWarehouse(warehouse), JSON.stringify(validWarehouse.errors)).to.equal(true);
    for (const subscription of warehouse.spec.subscriptions as Tree[]) {
      expect(image(subscription.image), JSON.stringify(image.errors)).to.equal(true);
    }
  });

  it('the schema checks refuse a Warehouse without subscriptions and a repoURL with a tag (the checks themselves)', () => {
    const { warehouse: validWarehouse, image } = warehouseValidators();
    const broken = structuredClone(warehouse);
    delete broken.spec.subscriptions;
    expect(validWarehouse(broken)).to.equal(false);
    expect(image({ repoURL: 'myregistry.azurecr.io/team/web:v1' })).to.equal(false);
  });

  it('docs/targets/kargo.md shows the example Warehouse', () => {
    expect(docsObject('targets/kargo.md', 'Warehouse')).to.deep.equal(warehouse);
  });
});

describe('docs/migrating.md', () => {
  const [repository] = readYamlDocuments(path.join(EXAMPLES_DIR, 'flux', 'image-repository.yaml')) as Tree[];
  const [warehouse] = readYamlDocuments(path.join(EXAMPLES_DIR, 'kargo', 'warehouse.yaml'));

  it('shows the example ImageRepository and Warehouse, so their schema checks hold for the page', () => {
    expect(docsObject('migrating.md', 'ImageRepository')).to.deep.equal(repository);
    expect(docsObject('migrating.md', 'Warehouse')).to.deep.equal(warehouse);
  });

  it("shows a Brigade project that Brigade's own schema accepts, for the same image", () => {
    const ajv = new Ajv({ allErrors: true, strict: false });
    ajv.addSchema(readSchema('brigade', 'common.json'));
    const validate = ajv.compile(readSchema('brigade', 'project.json'));
    const project = docsObject('migrating.md', 'Project');
    expect(validate(project), JSON.stringify(validate.errors)).to.equal(true);
    const [subscription] = project.spec.eventSubscriptions as Tree[];
    expect(`${subscription.qualifiers.registry}/${subscription.labels.repo}`).to.equal(repository.spec.image);
  });
});
